"""A check's baseline taken after the writes (``RunOptions.baseline="auto"``, the default): a
green change runs each test once, a red one runs again, on the tree as it was before the run,
only what did not pass after it, and a run killed while the earlier tree is back for that
moment leaves nothing lost. Each test counts the runs of every test in a log outside the
repository (the project's own conftest writes it), and the project's full suite is the
oracle of what a commit holds."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore
from support.durable import cli, commits, killed_at, report
from support.repos import full_suite, git, require_program

from phasegraph import RunOptions, build_orchestrator, run_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.model.report import Report

MakeRepo = Callable[[dict[str, str]], Path]
TESTS = {"id": "tests", "skill": "run_pytest"}
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "change"}}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def project(log: Path) -> dict[str, str]:
    """Three modules, each with its tests, one test always skipped, and a conftest that logs
    every test that runs (its node id, once per run of it) to ``log``."""
    conftest = (
        "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef _log(request):\n"
        f"    with open({str(log)!r}, 'a') as out:\n"
        "        out.write(request.node.nodeid + '\\n')\n"
    )
    files = {
        ".gitignore": ".phasegraph/\n",
        "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
        "pkg/__init__.py": "",
        "tests/conftest.py": conftest,
        "tests/test_skip.py": "import pytest\n\n\ndef test_later():\n    pytest.skip('not yet')\n",
    }
    for name in ("a", "b", "c"):
        files[f"pkg/{name}.py"] = f"def {name}(n):\n    return n + 1\n"
        files[f"tests/test_{name}.py"] = (
            f"import pytest\n\nfrom pkg.{name} import {name}\n\n\n"
            f"@pytest.mark.parametrize('n', range(3))\ndef test_{name}(n):\n"
            f"    assert {name}(n) == n + 1\n"
        )
    return files


def runs(log: Path) -> Counter[str]:
    return Counter(log.read_text().split()) if log.exists() else Counter()


def edit(path: str, search: str, replace: str) -> dict[str, Any]:
    return {
        "id": "edit",
        "skill": "edit_block",
        "args": {"path": path, "search": search, "replace": replace},
    }


async def run(repo: Path, *steps: dict[str, Any], **options: Any) -> Report:
    plan = parse_plan({"goal": "change", "steps": list(steps)})
    graph = build_orchestrator(store=InMemoryStore())
    return await run_plan(graph, plan, repo, options=RunOptions(**options))


async def test_a_green_change_runs_each_test_once(make_repo: MakeRepo, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    repo = make_repo(project(log))
    change = edit("pkg/a.py", "return n + 1", "return 1 + n")

    report = await run(repo, change, TESTS, COMMIT)

    assert report.status == "completed", report.error
    counted = runs(log)
    # The 9 tests ran once; the skipped one again on the earlier tree (did it pass then?).
    assert len(counted) == 10
    assert [t for t, k in counted.items() if k != 1] == ["tests/test_skip.py::test_later"]
    assert counted["tests/test_skip.py::test_later"] == 2
    listed = report.baselines[0].summary
    assert listed.startswith("pytest: listed 10 tests, to run once after the writes"), listed
    assert full_suite(repo)[0] == 0
    assert not (repo / ".phasegraph" / "pre-run").exists() or not any(
        (repo / ".phasegraph" / "pre-run").iterdir()
    )


async def test_before_runs_every_test_twice(make_repo: MakeRepo, tmp_path: Path) -> None:
    """The other mode, for contrast: the whole baseline before the writes."""
    log = tmp_path / "runs.log"
    repo = make_repo(project(log))

    report = await run(
        repo, edit("pkg/a.py", "return n + 1", "return 1 + n"), TESTS, COMMIT, baseline="before"
    )

    assert report.status == "completed", report.error
    assert set(runs(log).values()) == {2}  # the skipped one too: once before, once after


async def test_a_red_change_runs_again_only_what_did_not_pass(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    repo = make_repo(project(log))
    breaking = edit("pkg/b.py", "return n + 1", "return n + 2")

    report = await run(repo, breaking, TESTS, COMMIT)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    introduced = sorted([f.finding for f in report.new_findings["tests"]])
    assert introduced == [f"tests/test_b.py::test_b[{n}]" for n in range(3)]
    counted = runs(log)
    twice = sorted(t for t, k in counted.items() if k == 2)
    # The three that failed and the one skipped ran again on the earlier tree; nothing else.
    assert twice == [
        *(f"tests/test_b.py::test_b[{n}]" for n in range(3)),
        "tests/test_skip.py::test_later",
    ]
    assert set(counted.values()) == {1, 2}
    # The run's bytes are back where the run left them, no moment's journal left.
    assert (repo / "pkg/b.py").read_text() == "def b(n):\n    return n + 2\n"
    assert not list((repo / ".phasegraph").glob("pre-run/*/journal.json"))
    assert git(repo, "log", "--format=%s").split() == ["initial"]
    assert full_suite(repo, None)[0] != 0  # the oracle: the change really broke the suite


async def test_a_test_that_passed_before_and_is_skipped_after_blocks(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(project(tmp_path / "runs.log"))
    skipping = edit(
        "tests/test_c.py", "def test_c(n):\n", "def test_c(n):\n    pytest.skip('later')\n"
    )

    report = await run(repo, skipping, TESTS, COMMIT)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    lost = [f.finding for f in report.new_findings["tests"]]
    assert "tests/test_c.py::test_c[0]: passed before the run, skipped after it" in lost


async def test_a_failure_already_there_is_pre_existing_and_kept_for_a_retry(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    files = project(log)
    files["tests/test_old.py"] = "def test_old():\n    assert False, 'known'\n"
    repo = make_repo(files)

    first = await run(repo, edit("pkg/a.py", "return n + 1", "return 1 + n"), TESTS, COMMIT)

    assert first.status == "completed", first.error
    assert first.preexisting == {"tests": ["tests/test_old.py::test_old"]}
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # the same tree again: a retry
    log.unlink()
    again = await run(repo, edit("pkg/a.py", "return n + 1", "return 1 + n"), TESTS, COMMIT)
    assert again.status == "completed", again.error
    assert again.baselines[0].summary.startswith("reused from an earlier run"), again.baselines
    assert again.preexisting == {"tests": ["tests/test_old.py::test_old"]}
    # The kept baseline's one failure was confirmed on the untouched tree: it ran twice.
    assert runs(log)["tests/test_old.py::test_old"] == 2


# -- a run killed while the earlier tree is back ----------------------------------------------

FILES = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "calc.py": "A = 1\n",
    "test_calc.py": "from calc import A\n\n\ndef test_a() -> None:\n    assert A > 0\n",
    "test_skip.py": "import pytest\n\n\ndef test_later() -> None:\n    pytest.skip('not yet')\n",
}
PLAN = {
    "goal": "grow A",
    "steps": [
        {
            "id": "e1",
            "skill": "edit_block",
            "args": {"path": "calc.py", "search": "A = 1", "replace": "A = 11"},
        },
        {"id": "e2", "skill": "write_file", "args": {"path": "new.py", "content": "B = 2\n"}},
        {"id": "tests", "skill": "run_pytest"},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Grow A"}},
    ],
}


@pytest.mark.parametrize("point", ["pre-run-restored:1", "pre-run-checked"])
def test_a_run_killed_on_the_earlier_tree_resumes_with_its_own_bytes(
    make_repo: MakeRepo, tmp_path: Path, point: str
) -> None:
    repo = make_repo(FILES)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    killed_at(point, plan, repo)
    assert (repo / "calc.py").read_text() == "A = 1\n"  # killed while the earlier bytes were back
    assert list((repo / ".phasegraph").glob("pre-run/*/journal.json"))

    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(tmp_path / "r.json"))

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert report(tmp_path / "r.json")["status"] == "completed"
    assert commits(repo) == ["Grow A", "initial"]
    assert git(repo, "show", "HEAD:calc.py") == "A = 11\n"
    assert git(repo, "show", "HEAD:new.py") == "B = 2\n"
    assert git(repo, "status", "--porcelain") == ""
    assert not list((repo / ".phasegraph").glob("pre-run/*/journal.json"))
    assert full_suite(repo)[0] == 0


def test_a_run_killed_on_the_earlier_tree_can_be_undone(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    killed_at("pre-run-checked", plan, repo)

    undone = cli("undo", "t1", "-w", str(repo))

    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert git(repo, "status", "--porcelain") == ""  # calc.py as before, new.py gone
    assert not (repo / ".phasegraph" / "pre-run").exists() or not list(
        (repo / ".phasegraph" / "pre-run").iterdir()
    )


@pytest.mark.parametrize("baseline", ["auto", "before"])
async def test_a_strict_run_blocks_a_test_it_lost_too(
    make_repo: MakeRepo, tmp_path: Path, baseline: str
) -> None:
    """Strict blocks on every finding, old or new; a test that passed before and is skipped
    after is no finding of pytest's, so strict needs to know what passed before as well."""
    repo = make_repo(project(tmp_path / "runs.log"))
    skip_all = {
        "id": "skip",
        "skill": "write_file",
        "args": {
            "path": "tests/test_c.py",
            "content": "import pytest\n\npytestmark = pytest.mark.skip('later')\n\n\n"
            "def test_c():\n    pass\n",
        },
    }

    report = await run(repo, skip_all, TESTS, COMMIT, strict=True, baseline=baseline)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    lost = [f.finding for f in report.new_findings["tests"]]
    gone = [
        f"tests/test_c.py::test_c[{n}]: passed before the run, not run after it" for n in range(3)
    ]
    assert sorted(lost) == gone
    assert full_suite(repo, None)[0] == 0  # green, with three tests fewer: only the rule sees it
