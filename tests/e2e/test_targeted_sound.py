"""Targeted tests never commit what the whole suite rejects: where the import graph cannot
see, the selection widens or falls back to the whole suite.

Each case is a small real project (a git repository) and a plan: an edit that breaks a test
the static imports do not lead to, ``run_pytest {targeted: true}``, ``git_checkpoint``. The
run must stop at the gate, with nothing committed; the oracle is the project's whole suite,
run with pytest on the tree the run leaves, which is red. pytest, git and the graph run for
real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore
from support.repos import full_suite, git, init_repo, require_program

from phasegraph import RunOptions, build_orchestrator, run_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.model.report import Report
from phasegraph.skills.python.selection import EVERY_FILE

MakeRepo = Callable[[dict[str, str]], Path]

CALC = (
    "def add(a: int, b: int) -> int:\n    return a + b\n\n\n"
    "def mul(a: int, b: int) -> int:\n    return a * b\n"
)
#: Breaks mul; add, which the test importing calc checks, still passes.
BREAK_MUL: dict[str, Any] = {
    "id": "edit",
    "skill": "edit_block",
    "args": {"path": "pkg/calc.py", "search": "return a * b", "replace": "return a * b + 1"},
}
TEST_ADD = "from pkg.calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
#: A flat project: ``pkg`` at the top, importable from the folder pytest runs in.
FLAT = {
    "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    "pkg/__init__.py": "",
    "pkg/calc.py": CALC,
    "tests/test_add.py": TEST_ADD,
}
TARGETED = {"id": "tests", "skill": "run_pytest", "args": {"targeted": True}}
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "change"}}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


async def run(repo: Path, *steps: dict[str, Any]) -> tuple[Report, dict[str, Any]]:
    """Run the plan through the real graph; the report and the stored output of ``tests``."""
    store = InMemoryStore()
    plan = parse_plan({"goal": "targeted", "steps": [*steps, TARGETED, COMMIT]})
    report = await run_plan(build_orchestrator(store=store), plan, repo, options=RunOptions())
    [output] = [i.value for i in await store.asearch(("phasegraph", "outputs")) if i.key == "tests"]
    return report, output


def assert_stopped_at_the_gate(repo: Path, report: Report) -> None:
    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.commit is None
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"  # the initial commit only


def whole_suite(repo: Path) -> subprocess.CompletedProcess[str]:
    """The oracle: the project's whole suite, as its own ``python -m pytest`` runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_red(repo: Path, failing: str) -> None:
    result = whole_suite(repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAILED {failing}" in result.stdout, result.stdout


async def test_a_test_that_imports_with_importlib_is_selected(make_repo: MakeRepo) -> None:
    dynamic = (
        "import importlib\n\n\ndef test_mul() -> None:\n"
        '    calc = importlib.import_module("pkg.calc")\n    assert calc.mul(2, 3) == 6\n'
    )
    repo = make_repo({**FLAT, "tests/test_mul.py": dynamic})

    report, output = await run(repo, BREAK_MUL)

    selection = output["data"]["selection"]
    # Both test files reach calc: the plain suite runs.
    assert selection["files"] == [] and selection["fallback"] == EVERY_FILE
    assert selection["why"]["tests/test_mul.py"] == "imports pkg.calc (written: pkg/calc.py)"
    assert_stopped_at_the_gate(repo, report)
    assert [f.finding for f in report.new_findings["tests"]] == ["tests/test_mul.py::test_mul"]
    assert_red(repo, "tests/test_mul.py::test_mul")


async def test_a_plugin_in_addopts_runs_the_whole_suite(make_repo: MakeRepo) -> None:
    fixtures = (
        "import pytest\n\nfrom pkg.calc import mul\n\n\n@pytest.fixture\n"
        "def six() -> int:\n    return mul(2, 3)\n"
    )
    repo = make_repo(
        {
            **FLAT,
            "pyproject.toml": (
                "[tool.pytest.ini_options]\ntestpaths = ['tests']\naddopts = '-p pkg.fixtures'\n"
            ),
            "pkg/fixtures.py": fixtures,
            # Uses the plugin's fixture; imports nothing.
            "tests/test_six.py": "def test_six(six: int) -> None:\n    assert six == 6\n",
        }
    )

    report, output = await run(repo, BREAK_MUL)

    fallback = "addopts in pyproject.toml loads the plugin pkg.fixtures (-p): whole suite"
    assert output["data"]["selection"]["fallback"] == fallback
    assert output["summary"].endswith(f"targeted: {fallback}")
    assert_stopped_at_the_gate(repo, report)
    assert [f.finding for f in report.new_findings["tests"]] == ["tests/test_six.py::test_six"]
    assert_red(repo, "tests/test_six.py::test_six")


async def test_a_data_file_without_an_extension_runs_the_whole_suite(
    make_repo: MakeRepo,
) -> None:
    version = (
        "from pathlib import Path\n\n\ndef version() -> str:\n"
        '    return (Path(__file__).parent / "VERSION").read_text().strip()\n'
    )
    test_version = (
        "from pkg.version import version\n\n\n"
        'def test_version() -> None:\n    assert version() == "1.0"\n'
    )
    repo = make_repo(
        {
            **FLAT,
            "pkg/VERSION": "1.0\n",
            "pkg/version.py": version,
            "tests/test_version.py": test_version,
        }
    )
    bump = {"id": "bump", "skill": "write_file", "args": {"path": "pkg/VERSION", "content": "2\n"}}
    note = {
        "id": "note",
        "skill": "edit_block",
        "args": {"path": "pkg/calc.py", "search": "def add", "replace": "# Adds.\ndef add"},
    }

    report, output = await run(repo, bump, note)

    fallback = "the run writes pkg/VERSION, not Python (any test may read it): whole suite"
    assert output["data"]["selection"]["fallback"] == fallback
    assert_stopped_at_the_gate(repo, report)
    found = [f.finding for f in report.new_findings["tests"]]
    assert found == ["tests/test_version.py::test_version"]
    assert_red(repo, "tests/test_version.py::test_version")


async def test_an_edit_and_a_new_test_for_it_select_the_existing_tests_too(
    tmp_path: Path,
) -> None:
    # The workspace is itself the package `shop` (an __init__.py at its top, as phasegraph
    # is): the tests import shop.calc, which no folder of the workspace spells out.
    existing = (
        "from shop.calc import add, mul\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
        "\n\ndef test_mul() -> None:\n    assert mul(2, 3) == 6\n"
    )
    repo = init_repo(
        tmp_path / "shop",
        {
            "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
            "__init__.py": "",
            "calc.py": CALC,
            "tests/__init__.py": "",
            "tests/test_calc.py": existing,
        },
    )
    new_test = (
        "from shop.calc import add\n\n\ndef test_add_zero() -> None:\n    assert add(0, 0) == 0\n"
    )
    edit = {
        "id": "edit",
        "skill": "edit_block",
        "args": {"path": "calc.py", "search": "return a * b", "replace": "return a * b + 1"},
    }
    add_test = {
        "id": "new",
        "skill": "write_file",
        "args": {"path": "tests/test_calc_zero.py", "content": new_test},
    }

    report, output = await run(repo, edit, add_test)

    selection = output["data"]["selection"]
    assert selection["files"] == [] and selection["fallback"] == EVERY_FILE  # both: the plain suite
    assert selection["why"] == {
        "tests/test_calc.py": "imports shop.calc (written: calc.py)",
        "tests/test_calc_zero.py": "written by the run",
    }
    assert_stopped_at_the_gate(repo, report)
    found = [f.finding for f in report.new_findings["tests"]]
    assert found == ["tests/test_calc.py::test_mul"]
    assert_red(repo, "tests/test_calc.py::test_mul")


# Tests that run the package without importing it by name: a docs page's examples.

#: A docs page whose example multiplies: only this page runs mul.
DOCS_PAGE = (
    "# calc\n\nMultiply two numbers:\n\n```python\n"
    ">>> from pkg.calc import mul\n>>> mul(2, 3)\n6\n\n```\n"
)
#: Runs every docs page's examples, as many projects' test_docs.py do: it imports nothing of
#: the package, and names no page.
TEST_DOCS = (
    "import doctest\nfrom pathlib import Path\n\nimport pytest\n\n"
    'DOCS = Path(__file__).parent.parent / "docs"\n\n\n'
    '@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)\n'
    "def test_docs(page: Path) -> None:\n"
    "    failed, _ = doctest.testfile(str(page), module_relative=False)\n"
    "    assert failed == 0\n"
)
TEST_OTHER = "from pkg.other import X\n\n\ndef test_x() -> None:\n    assert X == 1\n"
WITH_DOCS = {
    **FLAT,
    "pkg/other.py": "X = 1\n",
    "tests/test_other.py": TEST_OTHER,
    "docs/index.md": DOCS_PAGE,
    "tests/test_docs.py": TEST_DOCS,
}


def assert_red_on_the_tree(repo: Path, failing: str) -> None:
    """The oracle: the whole suite on the tree the run left (``support.repos.full_suite``)."""
    code, counts, last = full_suite(repo, None)
    assert code == 1 and counts.get("failed") == 1, last
    assert_red(repo, failing)


async def test_a_docs_test_is_selected_when_the_code_its_pages_run_changes(
    make_repo: MakeRepo,
) -> None:
    # Before: tests/test_docs.py was not selected (it imports nothing of pkg), test_add.py
    # passed, and the break committed.
    repo = make_repo(WITH_DOCS)

    report, output = await run(repo, BREAK_MUL)

    selection = output["data"]["selection"]
    assert selection["files"] == ["tests/test_add.py", "tests/test_docs.py"]
    assert selection["why"] == {
        "tests/test_add.py": "imports pkg.calc (written: pkg/calc.py)",
        "tests/test_docs.py": "reads files at run time (docs/*.md) (written: pkg/calc.py)",
    }
    assert selection["left_out"] == 1
    assert selection["left_out_files"] == ["tests/test_other.py"]
    assert_stopped_at_the_gate(repo, report)
    found = [f.finding for f in report.new_findings["tests"]]
    assert found == ["tests/test_docs.py::test_docs[index.md]"]
    assert_red_on_the_tree(repo, "tests/test_docs.py::test_docs[index.md]")


async def test_a_docs_test_runs_when_the_docs_it_reads_change(make_repo: MakeRepo) -> None:
    repo = make_repo(WITH_DOCS)
    wrong = {
        "id": "docs",
        "skill": "edit_block",
        "args": {"path": "docs/index.md", "search": "mul(2, 3)\n6", "replace": "mul(2, 3)\n7"},
    }

    report, output = await run(repo, wrong)

    # A page is not Python: the whole suite runs, and the reason names who reads it.
    assert output["data"]["selection"]["fallback"] == (
        "the run writes docs/index.md, not Python (any test may read it; tests/test_docs.py "
        "reads files at run time (docs/*.md) (written: docs/index.md)): whole suite"
    )
    assert_stopped_at_the_gate(repo, report)
    found = [f.finding for f in report.new_findings["tests"]]
    assert found == ["tests/test_docs.py::test_docs[index.md]"]
    assert_red_on_the_tree(repo, "tests/test_docs.py::test_docs[index.md]")


# What targeted costs.


@pytest.mark.parametrize("when", ["before", "auto"])
async def test_a_targeted_rerun_on_the_same_tree_reuses_its_baseline(
    make_repo: MakeRepo, when: str
) -> None:
    repo = make_repo(WITH_DOCS)
    note = {
        "id": "note",
        "skill": "edit_block",
        "args": {"path": "pkg/other.py", "search": "X = 1", "replace": "X = 1  # one"},
    }
    plan = parse_plan({"goal": "note", "steps": [note, TARGETED]})
    # A baseline taken before the writes is kept; so is what one taken after them learned.
    options = RunOptions(baseline=when)  # type: ignore[arg-type]
    first = await run_plan(build_orchestrator(), plan, repo, options=options)
    assert first.status == "completed", first.error
    assert not first.baselines[0].summary.startswith("reused")

    git(repo, "checkout", "--", "pkg/other.py")  # the same tree again
    second = await run_plan(build_orchestrator(), plan, repo, options=options)

    assert second.status == "completed", second.error
    [baseline] = second.baselines
    assert baseline.summary.startswith("reused from an earlier run on this same tree: "), (
        baseline.summary
    )
    # Its own selection: the two files other.py and the docs test reach, not test_add.py.
    assert second.selections["tests"]["files"] == ["tests/test_docs.py", "tests/test_other.py"]
    if when == "before":
        assert baseline.summary.endswith(
            "targeted: 2 of 3 test files (tests/test_docs.py, tests/test_other.py)"
        )


async def test_when_every_test_file_is_reached_it_runs_as_the_plain_suite(
    make_repo: MakeRepo,
) -> None:
    # pkg/__init__.py imports everything: every test reaches any module of the package.
    repo = make_repo({**WITH_DOCS, "pkg/__init__.py": "from pkg import calc, other\n"})

    report, output = await run(repo, BREAK_MUL)

    selection = output["data"]["selection"]
    plain = "every test file is reached — ran as the plain suite"
    assert plain == EVERY_FILE
    assert selection["files"] == [] and selection["fallback"] == plain
    assert sorted(selection["why"]) == [
        "tests/test_add.py",
        "tests/test_docs.py",
        "tests/test_other.py",
    ]
    assert selection["left_out"] == 0
    assert output["summary"].endswith(f"targeted: {plain}")
    assert_stopped_at_the_gate(repo, report)
    assert_red_on_the_tree(repo, "tests/test_docs.py::test_docs[index.md]")


# Options the selection cannot see: pytest's environment variables, a configuration above the
# workspace. Both run the whole suite.

DOCTEST_MUL = CALC.replace(
    "    return a * b\n", '    """\n    >>> mul(2, 3)\n    6\n    """\n    return a * b\n'
)


async def test_pytest_addopts_in_the_environment_runs_the_whole_suite(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The doctest of mul runs only with --doctest-modules, which comes from the environment:
    # a selection of tests/test_add.py alone never collects pkg/calc.py.
    repo = make_repo({**FLAT, "pkg/calc.py": DOCTEST_MUL, "pyproject.toml": ""})
    monkeypatch.setenv("PYTEST_ADDOPTS", "--doctest-modules")

    report, output = await run(repo, BREAK_MUL)

    assert_stopped_at_the_gate(repo, report)
    assert "PYTEST_ADDOPTS set" in output["data"]["selection"]["fallback"]
    assert [f.finding for f in report.new_findings["tests"]] == ["pkg/calc.py::pkg.calc.mul"]


def test_a_configuration_above_the_workspace_runs_the_whole_suite(tmp_path: Path) -> None:
    from phasegraph.skills.python.selection import select_tests

    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --doctest-modules\n")
    repo = init_repo(tmp_path / "inner", {k: v for k, v in FLAT.items() if k != "pyproject.toml"})

    found = select_tests(repo, ["pkg/calc.py"])

    assert found.files == ()
    assert found.fallback == (
        f"pytest takes its configuration from {tmp_path / 'pytest.ini'}, above the "
        "workspace, which has none of its own: whole suite"
    )
