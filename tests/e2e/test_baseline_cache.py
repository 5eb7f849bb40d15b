"""Kept baselines: a re-run on the very same tree skips its baseline checks, and says so.

The runs here take their baselines before the writes (``RunOptions.baseline="before"``), the
full baselines the cache keeps; what a run that takes its baseline after the writes learns of
the earlier tree is kept too (the last test here, and ``test_baseline_after.py``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import repos
from support.repos import git, write

MakeRepo = Callable[[dict[str, str]], Path]
run_collecting = functools.partial(repos.run_collecting, baseline="before")

LIB = "def greet(name: str) -> str:\n    return 'hello ' + name\n"
TESTS = "from lib import greet\n\n\ndef test_greet() -> None:\n    assert greet('x') == 'hello x'\n"
# Counts pytest sessions (baselines and after-runs) in a file outside the repository.
CONFTEST = (
    "import os\n\n\ndef pytest_sessionstart(session):\n"
    "    with open(os.environ['PHASEGRAPH_TEST_SESSIONS'], 'a') as f:\n"
    "        f.write('session\\n')\n"
)
FILES = {
    "lib.py": LIB,
    "test_lib.py": TESTS,
    "conftest.py": CONFTEST,
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
}


def committing(edit_id: str, search: str, replace: str) -> dict[str, Any]:
    """An edit of lib.py, the tests, a commit."""
    return {
        "goal": f"{edit_id} greet",
        "steps": [
            {
                "id": edit_id,
                "skill": "edit_block",
                "args": {"path": "lib.py", "search": search, "replace": replace},
            },
            {"id": "tests", "skill": "run_pytest"},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": edit_id}},
        ],
    }


FIRST = committing("doc", "def greet", "# Greets.\ndef greet")
SECOND = committing("note", "'hello ' + name", "'hello ' + name  # the greeting")


#: The first run's edit and tests, without the commit: a re-run finds the tree as it was.
PLAN: dict[str, Any] = {"goal": "document greet", "steps": FIRST["steps"][:2]}


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "sessions.log"
    monkeypatch.setenv("PHASEGRAPH_TEST_SESSIONS", str(log))
    return log


def count(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


async def rerun(repo: Path, **options: Any) -> str:
    """Put the edit back (the tree is as before), run the plan again: its baseline's summary."""
    git(repo, "checkout", "--", "lib.py")
    report, _ = await run_collecting(PLAN, repo, **options)
    assert report.status == "completed", report.error
    [baseline] = report.baselines
    return baseline.summary


async def test_a_rerun_on_the_same_tree_reuses_the_baseline(
    make_repo: MakeRepo, sessions: Path
) -> None:
    repo = make_repo(FILES)
    report, _ = await run_collecting(PLAN, repo)
    assert report.status == "completed", report.error
    assert count(sessions) == 2  # the baseline, then the after-run
    assert report.baselines[0].summary == "pytest: 1 passed"

    summary = await rerun(repo)

    assert summary == "reused from an earlier run on this same tree: pytest: 1 passed"
    assert count(sessions) == 3  # only the after-run ran
    assert git(repo, "status", "--porcelain", "--ignored") == " M lib.py\n!! .phasegraph/\n"


async def test_any_change_to_the_tree_or_the_check_runs_the_baseline_again(
    make_repo: MakeRepo, sessions: Path
) -> None:
    repo = make_repo(FILES)
    await run_collecting(PLAN, repo)
    assert count(sessions) == 2

    write(repo, "notes.txt", "an untracked file is part of the tree too\n")
    assert not (await rerun(repo)).startswith("reused")
    assert count(sessions) == 4

    other = {**PLAN, "steps": [PLAN["steps"][0], {**PLAN["steps"][1], "args": {"args": ["-q"]}}]}
    git(repo, "checkout", "--", "lib.py")
    report, _ = await run_collecting(other, repo)
    assert not report.baselines[0].summary.startswith("reused")
    assert count(sessions) == 6


async def test_the_cache_can_be_turned_off(make_repo: MakeRepo, sessions: Path) -> None:
    repo = make_repo(FILES)
    await run_collecting(PLAN, repo)

    assert not (await rerun(repo, baseline_cache=False)).startswith("reused")
    assert count(sessions) == 4


async def test_a_run_on_top_of_a_runs_commit_reuses_its_checks(
    make_repo: MakeRepo, sessions: Path
) -> None:
    repo = make_repo(FILES)
    first, _ = await run_collecting(FIRST, repo)
    assert first.status == "completed", first.error
    assert count(sessions) == 2

    # The second run's untouched tree is the first run's commit: its tests ran on it already.
    second, _ = await run_collecting(SECOND, repo)

    assert second.status == "completed", second.error
    assert second.baselines[0].summary == (
        "reused from an earlier run on this same tree: pytest: 1 passed"
    )
    assert count(sessions) == 3  # only the second run's after-run
    # What was reused is what the tests found on that commit: a new failure still blocks.
    failing = committing("break", "'hello ' + name  # the greeting", "'bye ' + name")
    third, _ = await run_collecting(failing, repo)
    assert third.status == "stopped"
    assert third.baselines[0].summary.startswith("reused")
    assert "test_lib.py::test_greet" in (third.error or "")
    assert git(repo, "log", "--format=%s") == "note\ndoc\ninitial\n"


async def test_a_change_after_the_commit_is_checked_again(
    make_repo: MakeRepo, sessions: Path
) -> None:
    repo = make_repo(FILES)
    await run_collecting(FIRST, repo)
    assert count(sessions) == 2
    write(repo, "notes.txt", "made after the first run\n")

    second, _ = await run_collecting(SECOND, repo)

    assert second.status == "completed", second.error
    assert second.baselines[0].summary == "pytest: 1 passed"
    assert count(sessions) == 4


async def test_what_a_run_learns_with_its_baseline_after_the_writes_is_reused(
    make_repo: MakeRepo, sessions: Path
) -> None:
    repo = make_repo(FILES)
    report, _ = await repos.run_collecting(PLAN, repo)  # baseline="auto", the default
    assert report.status == "completed", report.error
    assert count(sessions) == 2  # the listing (no test run), then the after-run

    summary = await rerun(repo, baseline="auto")

    assert summary.startswith("reused from an earlier run on this same tree: pytest: 1 passed")
    assert count(sessions) == 3  # only the after-run ran


async def test_a_targeted_check_keeps_a_baseline_per_selection(make_repo: MakeRepo) -> None:
    # Two runs on the same tree writing different files select different tests: the second
    # must not reuse the first one's baseline, which never ran its tests (a test of its that
    # the writes turn into a skip would go unseen: "passed before" unknown).
    repo = make_repo(
        {
            "a.py": "A = 1\n",
            "b.py": "DISABLED = False\n",
            "test_a.py": "from a import A\n\n\ndef test_a() -> None:\n    assert A == 1\n",
            "test_b.py": (
                "import pytest\n\nimport b\n\n\n"
                "@pytest.mark.skipif(b.DISABLED, reason='off')\n"
                "def test_b() -> None:\n    assert True\n"
            ),
            "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
        }
    )

    def targeted(path: str, search: str, replace: str) -> dict[str, Any]:
        edit = {"path": path, "search": search, "replace": replace}
        return {
            "goal": f"edit {path}",
            "steps": [
                {"id": "edit", "skill": "edit_block", "args": edit},
                {"id": "tests", "skill": "run_pytest", "args": {"targeted": True}},
            ],
        }

    first, _ = await run_collecting(targeted("a.py", "A = 1", "A = 1  # one"), repo)
    assert first.status == "completed", first.error
    git(repo, "checkout", "--", "a.py")

    second, _ = await run_collecting(targeted("b.py", "False", "True"), repo)

    assert second.status == "stopped", "a test that passed before is skipped after the writes"
    assert not second.baselines[0].summary.startswith("reused")
    [found] = second.new_findings["tests"]
    assert "test_b.py::test_b" in found.finding
