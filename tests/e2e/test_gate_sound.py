"""A green gate means the change was checked: each way a breaking change used to commit, on a
real repository through the real graph, now blocks; the project's full suite, run on the tree
the run left, is the oracle that the change really broke (or stopped checking) something.

Every case here committed before the gate held a run to "every test that passed before still
passes after, under the same options and configuration": a passed test now skipped or gone,
an early-stop option hiding a new failure behind a known one, a plan editing its checker's
configuration, a kept baseline reused on a tree whose ignored files had changed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore
from support.repos import full_suite, git, require_program

from phasegraph import RunOptions, build_orchestrator, run_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.model.report import Report

MakeRepo = Callable[[dict[str, str]], Path]
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "change"}}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def edit(path: str, search: str, replace: str, step_id: str = "edit") -> dict[str, Any]:
    return {
        "id": step_id,
        "skill": "edit_block",
        "args": {"path": path, "search": search, "replace": replace},
    }


def write(path: str, content: str) -> dict[str, Any]:
    return {"id": "write", "skill": "write_file", "args": {"path": path, "content": content}}


def pytest_step(*args: str) -> dict[str, Any]:
    return {"id": "tests", "skill": "run_pytest", "args": {"args": list(args)}}


#: When the baselines run (``RunOptions.baseline``): every class must hold either way.
MODES = ("auto", "before")
_mode = {"baseline": "auto"}


@pytest.fixture(autouse=True, params=MODES)
def baseline_mode(request: pytest.FixtureRequest) -> str:
    _mode["baseline"] = request.param
    return str(request.param)


async def run(repo: Path, *steps: dict[str, Any], **plan: Any) -> Report:
    built = parse_plan({"goal": "change", "steps": list(steps), **plan})
    graph = build_orchestrator(store=InMemoryStore())
    options = RunOptions(baseline=_mode["baseline"])  # type: ignore[arg-type]
    return await run_plan(graph, built, repo, options=options)


def blocked(report: Report) -> list[str]:
    assert report.status == "stopped", report
    assert report.failure_kind == "gate", report.error
    assert report.commit is None
    return [f.finding for found in report.new_findings.values() for f in found]


PYPROJECT = "[tool.pytest.ini_options]\ntestpaths = ['tests']\n"


# -- 2. Passed before, not passed after ------------------------------------------------------


async def test_a_broken_import_turned_into_a_skip_blocks(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "pyproject.toml": PYPROJECT,
            "pkg/__init__.py": "",
            "pkg/feature.py": "def f() -> int:\n    return 1\n",
            "tests/test_feature.py": (
                "import pytest\n\nfeature = pytest.importorskip('pkg.feature')\n\n\n"
                "def test_f():\n    assert feature.f() == 1\n"
            ),
        }
    )
    breaking = edit("pkg/feature.py", "def f", "import not_installed_anywhere\n\n\ndef f")

    found = blocked(await run(repo, breaking, pytest_step(), COMMIT))

    assert found == ["tests/test_feature.py::test_f: passed before the run, skipped after it"]
    code, _, line = full_suite(repo, None)
    assert code == 5 and line.startswith("1 skipped")  # the oracle: nothing passes now


async def test_a_parametrisation_the_change_empties_blocks(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "pyproject.toml": PYPROJECT,
            "pkg/__init__.py": "",
            "pkg/registry.py": "HANDLERS = {'a': str.upper, 'b': str.lower}\n",
            "tests/test_registry.py": (
                "import pytest\n\nfrom pkg.registry import HANDLERS\n\n\n"
                "@pytest.mark.parametrize('name', sorted(HANDLERS))\n"
                "def test_handler(name):\n    assert HANDLERS[name]('x') in ('x', 'X')\n"
            ),
        }
    )
    emptied = edit("pkg/registry.py", "{'a': str.upper, 'b': str.lower}", "{}")

    found = blocked(await run(repo, emptied, pytest_step(), COMMIT))

    assert sorted(found) == [
        "tests/test_registry.py::test_handler[a]: passed before the run, not run after it",
        "tests/test_registry.py::test_handler[b]: passed before the run, not run after it",
    ]
    code, _, line = full_suite(repo, None)
    assert code == 0 and line.startswith("1 skipped")  # 2 passed became 1 skipped


async def test_a_conftest_that_skips_everything_blocks(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "pyproject.toml": PYPROJECT,
            "pkg/__init__.py": "",
            "tests/test_a.py": "def test_a():\n    assert 1 + 1 == 2\n",
        }
    )
    skip_all = write(
        "tests/conftest.py",
        "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n"
        "    for item in items:\n        item.add_marker(pytest.mark.skip(reason='later'))\n",
    )

    report = await run(repo, skip_all, pytest_step(), COMMIT)

    assert blocked(report) == ["tests/test_a.py::test_a: passed before the run, skipped after it"]
    detail = report.new_findings["tests"][0].detail
    assert detail == "passed on the untouched tree; after the writes: skipped: later"
    assert "passed" not in full_suite(repo, None)[2]


async def test_an_emptied_test_file_blocks_and_a_plan_that_means_it_commits(
    make_repo: MakeRepo,
) -> None:
    files = {
        "pyproject.toml": PYPROJECT,
        "tests/test_a.py": "def test_a():\n    assert True\n",
        "tests/test_b.py": "def test_b():\n    assert True\n",
    }
    repo = make_repo(files)

    found = blocked(await run(repo, write("tests/test_a.py", ""), pytest_step(), COMMIT))

    assert found == ["tests/test_a.py::test_a: passed before the run, not run after it"]
    code, _, line = full_suite(repo, None)
    assert code == 0 and line.startswith("1 passed in")  # was 2

    # Removing a test on purpose: the plan says so, and the report lists what it accepted.
    other = make_repo(files)
    report = await run(
        other, write("tests/test_a.py", ""), pytest_step(), COMMIT, accept_fewer_checks=True
    )
    assert report.status == "completed" and report.commit, report.error
    assert report.accepted == {
        "tests": ["tests/test_a.py::test_a: passed before the run, not run after it"]
    }


# -- 3. Early-stop options -------------------------------------------------------------------


@pytest.mark.parametrize("option", [["-x"], ["-xq"], ["--maxfail", "1"], ["--maxfail=1"]])
async def test_an_early_stop_option_cannot_hide_a_new_failure(
    make_repo: MakeRepo, option: list[str]
) -> None:
    repo = make_repo(
        {
            "pyproject.toml": PYPROJECT,
            "pkg/__init__.py": "",
            "pkg/calc.py": "def double(x):\n    return 2 * x\n",
            "tests/test_a_known.py": "def test_known_bug():\n    assert 1 == 2\n",
            "tests/test_b_calc.py": (
                "from pkg.calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
            ),
        }
    )
    breaking = edit("pkg/calc.py", "2 * x", "3 * x")

    report = await run(repo, breaking, pytest_step(*option), COMMIT)

    assert blocked(report) == ["tests/test_b_calc.py::test_double"]
    assert report.preexisting == {"tests": ["tests/test_a_known.py::test_known_bug"]}
    summary = next(s.summary for s in report.steps if s.id == "tests")
    assert "ran without" in summary and "(a check runs every selected test)" in summary
    code, _, line = full_suite(repo, None)
    assert code == 1 and line.startswith("2 failed in")


def test_collect_only_is_refused_as_a_check_that_checks_nothing() -> None:
    from phasegraph.skills.run_pytest.skill import RunPytestArgs

    with pytest.raises(ValueError, match="collects tests without running them"):
        RunPytestArgs(args=["--collect-only"])


# -- 4. The plan edits its checker's configuration -------------------------------------------


async def test_a_plan_that_silences_ruff_in_its_config_blocks(make_repo: MakeRepo) -> None:
    ruff = require_program("ruff")
    repo = make_repo(
        {
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
            "app.py": "def main() -> int:\n    return 0\n",
        }
    )
    steps = [
        edit("app.py", "def main", "import os\n\n\ndef main"),
        edit(
            "pyproject.toml", "line-length = 100\n", 'line-length = 100\nignore = ["F401"]\n', "cfg"
        ),
        {"id": "lint", "skill": "run_ruff", "args": {}},
        COMMIT,
    ]

    found = blocked(await run(repo, *steps))

    assert found == ["pyproject.toml: [tool.ruff] changed by the run"]
    # The oracle: ruff under the configuration the run started with.
    git(repo, "stash", "push", "--", "pyproject.toml")
    assert subprocess.run([ruff, "check", "-q", "."], cwd=repo, check=False).returncode == 1


async def test_a_plan_that_switches_mypy_off_blocks_but_a_pytest_only_plan_does_not_care(
    make_repo: MakeRepo,
) -> None:
    require_program("mypy")
    files = {
        "mypy.ini": "[mypy]\nwarn_unused_configs = True\n",
        "app.py": "def main() -> int:\n    return 0\n",
        "tests/test_app.py": "from app import main\n\n\ndef test_main():\n    assert main() == 0\n",
    }
    steps = [
        edit("app.py", "return 0", "return 0\n\n\nx: int = 'text'"),
        edit("mypy.ini", "True\n", "True\nignore_errors = True\n", "cfg"),
    ]
    repo = make_repo(files)

    found = blocked(await run(repo, *steps, {"id": "types", "skill": "run_mypy"}, COMMIT))

    assert found == ["mypy.ini (mypy's configuration) changed by the run"]

    # The same writes judged by pytest alone: mypy's configuration is none of its business.
    other = make_repo(files)
    report = await run(other, *steps, pytest_step(), COMMIT)
    assert report.status == "completed", report.error


async def test_a_plan_that_points_mypy_elsewhere_where_the_project_runs_it_blocks(
    make_repo: MakeRepo,
) -> None:
    """With no paths, run_mypy checks what the project's tox environment runs mypy on: a plan
    that moves that elsewhere beside a type error checks nothing of its change."""
    mypy = require_program("mypy")
    repo = make_repo(
        {
            "tox.ini": "[testenv:type]\ncommands = mypy src\n",
            "src/app.py": "def main() -> int:\n    return 0\n",
            "scripts/tool.py": "X: int = 1\n",
        }
    )
    steps = [
        edit("src/app.py", "return 0", "return 0\n\n\nx: int = 'text'"),
        edit("tox.ini", "mypy src", "mypy scripts", "cfg"),
        {"id": "types", "skill": "run_mypy"},
        COMMIT,
    ]

    found = blocked(await run(repo, *steps))

    assert found == ["tox.ini: [testenv] changed by the run"]
    # The oracle: mypy as the project ran it before the run.
    assert subprocess.run([mypy, "src"], cwd=repo, check=False).returncode == 1


# -- 5. A kept baseline reused on a tree whose ignored files changed -------------------------


async def test_a_reused_baseline_cannot_call_a_new_failure_pre_existing(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(
        {
            ".gitignore": ".env\n",
            "pyproject.toml": PYPROJECT,
            "pkg/__init__.py": "",
            "pkg/settings.py": (
                "from pathlib import Path\n\n\ndef mode() -> str:\n"
                "    return Path('.env').read_text().strip().lower()\n"
            ),
            "tests/test_settings.py": (
                "from pkg.settings import mode\n\n\ndef test_mode():\n    assert mode() == 'ok'\n"
            ),
            "tests/test_other.py": "def test_other():\n    assert True\n",
        }
    )
    (repo / ".env").write_text("BROKEN\n")
    harmless = edit("tests/test_other.py", "def test_other", "# other\ndef test_other")
    # A first run while .env breaks the test: its baseline (the test failing) is kept.
    first = await run(repo, harmless, pytest_step())
    assert first.status == "completed", first.error
    assert first.preexisting == {"tests": ["tests/test_settings.py::test_mode"]}
    git(repo, "checkout", "--", "tests/test_other.py")  # the same tree again
    (repo / ".env").write_text("OK\n")  # ignored by git: outside the kept baseline's key

    breaking = edit("pkg/settings.py", ".lower()", ".upper()")
    report = await run(repo, breaking, pytest_step(), COMMIT)

    assert blocked(report) == ["tests/test_settings.py::test_mode"]
    if _mode["baseline"] == "before":  # "auto" keeps no baseline of a tree it did not check
        assert report.baselines[0].summary.startswith("reused from an earlier run")
    code, _, line = full_suite(repo, None)
    assert code == 1 and line.startswith("1 failed, 1 passed")
