"""Whole runs on real temporary git repos: the five phases and their guarantees."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, require_program, run_collecting, snapshot, text_server, write

MakeRepo = Callable[[dict[str, str]], Path]

LIB = "def greet(name: str) -> str:\n    return 'hello ' + name\n"
TESTS = "from lib import greet\n\n\ndef test_greet() -> None:\n    assert greet('x') == 'hello x'\n"
PYPROJECT = "[tool.pytest.ini_options]\npythonpath = ['.']\n"


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff", "mypy"):
        require_program(name)


def intervals(events: list[dict[str, Any]], phase: str) -> dict[str, tuple[float, float]]:
    """(started_at, ended_at) of each finished step of ``phase``, from the stream."""
    return {
        e["id"]: (e["started_at"], e["ended_at"])
        for e in events
        if e.get("event") == "step" and e["phase"] == phase and e["status"] in ("done", "failed")
    }


@pytest.fixture
def slow_server() -> Iterator[str]:
    with text_server(delay=0.4) as url:
        yield url


async def test_reads_run_in_parallel(make_repo: MakeRepo, slow_server: str) -> None:
    repo = make_repo({"lib.py": LIB})
    plan = {
        "goal": "read four pages and search",
        "steps": [
            *(
                {"id": f"page{n}", "skill": "fetch_url", "args": {"url": f"{slow_server}/{n}"}}
                for n in range(4)
            ),
            {"id": "search", "skill": "rg_search", "args": {"pattern": "greet"}},
        ],
    }
    # The test server is on loopback, which fetch_url reaches only when allow-listed.
    report, events = await run_collecting(plan, repo, allow_hosts=("127.0.0.1",))
    assert report.status == "completed", report.error
    spans = intervals(events, "read")
    assert set(spans) == {"page0", "page1", "page2", "page3", "search"}
    pages = [spans[f"page{n}"] for n in range(4)]
    # Every page read started before any of them had finished: they overlapped.
    assert max(start for start, _ in pages) < min(end for _, end in pages)


async def test_a_read_waits_only_for_its_own_dependencies(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    plan = {
        "goal": "dependent reads",
        "steps": [
            {"id": "first", "skill": "rg_search", "args": {"pattern": "greet"}},
            {"id": "second", "skill": "read_file", "args": {"path": "lib.py"}, "after": ["first"]},
        ],
    }
    report, events = await run_collecting(plan, repo)
    assert report.status == "completed"
    spans = intervals(events, "read")
    assert spans["second"][0] >= spans["first"][1]


def edit(step_id: str, path: str, search: str, replace: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "skill": "edit_block",
        "args": {"path": path, "search": search, "replace": replace},
    }


def verifies() -> list[dict[str, Any]]:
    return [
        {"id": "ruff", "skill": "run_ruff"},
        {"id": "mypy", "skill": "run_mypy"},
        {"id": "pytest", "skill": "run_pytest"},
    ]


def commit() -> dict[str, Any]:
    return {"id": "commit", "skill": "git_checkpoint", "args": {"message": "phasegraph change"}}


async def test_full_run_writes_one_at_a_time_verifies_in_parallel_and_commits(
    make_repo: MakeRepo,
) -> None:
    files = {f"m{n}.py": f"VALUE_{n} = {n}\n" for n in range(5)}
    tests = "from m0 import VALUE_0\n\n\ndef test_m0() -> None:\n    assert VALUE_0 >= 0\n"
    repo = make_repo({**files, "test_m.py": tests, "pyproject.toml": PYPROJECT})
    head = git(repo, "rev-parse", "HEAD").strip()
    plan = {
        "goal": "bump five values",
        "steps": [
            {"id": "find", "skill": "rg_search", "args": {"pattern": "VALUE_"}},
            *(
                edit(f"edit{n}", f"m{n}.py", f"VALUE_{n} = {n}", f"VALUE_{n} = {n + 100}")
                for n in range(5)
            ),
            *verifies(),
            commit(),
        ],
    }
    report, events = await run_collecting(plan, repo)
    assert report.status == "completed", report.error
    writes = sorted(intervals(events, "write").values())
    assert len(writes) == 5
    for (_, end), (start, _) in itertools.pairwise(writes):
        assert start >= end, "two writes overlapped"
    checks = intervals(events, "verify")
    assert set(checks) == {"ruff", "mypy", "pytest"}
    assert min(s for s, _ in checks.values()) >= writes[-1][1], (
        "a verify started before the last write"
    )
    assert max(s for s, _ in checks.values()) < min(e for _, e in checks.values()), (
        "verifies did not overlap"
    )
    # The commit exists, holds exactly the five files, and its parent is the old HEAD.
    assert report.commit == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-parse", "HEAD~1").strip() == head
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == sorted(files)
    assert (repo / "m3.py").read_text() == "VALUE_3 = 103\n"
    assert [s.status for s in report.steps] == ["done"] * len(report.steps)


async def test_a_failed_write_stops_everything_after_it(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            **{"a.py": "A = 1\n", "b/keep.txt": "a folder\n", "c.py": "C = 3\n"},
            **{"lib.py": LIB, "test_lib.py": TESTS, "pyproject.toml": PYPROJECT},
        }
    )
    head = git(repo, "rev-parse", "HEAD").strip()
    before = snapshot(repo)
    plan = {
        "goal": "three writes, the second impossible",
        "steps": [
            edit("e1", "a.py", "A = 1", "A = 10"),
            {
                "id": "new",
                "skill": "write_file",
                "args": {"path": "pkg/new.py", "content": "N = 1\n"},
            },
            # b is a folder: no dry run foresees that, the write itself fails.
            {"id": "e2", "skill": "write_file", "args": {"path": "b", "content": "B = 2\n"}},
            edit("e3", "c.py", "C = 3", "C = 30"),
            *verifies(),
            commit(),
        ],
    }
    report, events = await run_collecting(plan, repo)
    assert report.status == "stopped"
    assert report.failed_step == "e2", report.error
    assert "'b'" in (report.error or "")
    status = {s.id: s.status for s in report.steps}
    assert status == {
        "e1": "done",
        "new": "done",
        "e2": "failed",
        "e3": "skipped",
        "ruff": "skipped",
        "mypy": "skipped",
        "pytest": "skipped",
        "commit": "skipped",
    }
    assert not [
        e
        for e in events
        if e.get("id") in ("e3", "ruff", "mypy", "pytest", "commit") and e["status"] == "running"
    ]
    assert (repo / "c.py").read_text() == "C = 3\n"
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert report.written == ["a.py", "pkg/new.py"]
    # The report's undo commands put back exactly the bytes from before the run.
    for command in report.undo:
        subprocess.run(command, shell=True, cwd=repo, check=True)
    assert snapshot(repo) == before


def gate_repo(make_repo: MakeRepo) -> Path:
    return make_repo(
        {
            "pyproject.toml": PYPROJECT,
            "lib.py": LIB + "\n\ndef add(a: int, b: int) -> int:\n    return a + b\n",
            "test_lib.py": TESTS
            + "\n\ndef test_add() -> None:\n    from lib import add\n    assert add(2, 2) == 4\n"
            + "\n\ndef test_already_broken() -> None:\n    assert 1 == 2\n",
        }
    )


async def test_a_test_the_run_breaks_blocks_the_commit(make_repo: MakeRepo) -> None:
    repo = gate_repo(make_repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    plan = {
        "goal": "break add",
        "steps": [
            edit("e", "lib.py", "return a + b", "return a - b"),
            {"id": "pytest", "skill": "run_pytest"},
            commit(),
        ],
    }
    report, _ = await run_collecting(plan, repo)
    assert report.status == "stopped"
    assert report.failure_kind == "gate"
    assert report.failed_step == "pytest"
    assert "test_lib.py::test_add" in (report.error or "")
    assert "test_already_broken" not in (report.error or "")
    # The check's row names the new failure first, not the one that was already there.
    [row] = [s for s in report.steps if s.id == "pytest"]
    assert row.summary.startswith("new: test_lib.py::test_add; 1 pre-existing — pytest: ")
    assert git(repo, "rev-parse", "HEAD").strip() == head


async def test_an_already_failing_test_does_not_block_unless_strict(make_repo: MakeRepo) -> None:
    repo = gate_repo(make_repo)
    plan = {
        "goal": "harmless edit",
        "steps": [
            edit("e", "lib.py", "return 'hello ' + name", "return 'hello ' + name  # greet"),
            {"id": "pytest", "skill": "run_pytest"},
            commit(),
        ],
    }
    report, _ = await run_collecting(plan, repo)
    assert report.status == "completed", report.error
    assert report.commit
    assert report.preexisting == {"pytest": ["test_lib.py::test_already_broken"]}

    strict_repo = gate_repo(make_repo)
    before = git(strict_repo, "rev-parse", "HEAD").strip()
    report, _ = await run_collecting(plan, strict_repo, strict=True)
    assert report.status == "stopped"
    assert report.failure_kind == "gate"
    assert "test_already_broken" in (report.error or "")
    assert git(strict_repo, "rev-parse", "HEAD").strip() == before


async def test_the_users_uncommitted_work_is_never_overwritten_or_committed(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"a.py": "A = 1\n", "mine.py": "MINE = 1\n"})
    write(repo, "mine.py", "MINE = 2  # work in progress\n")
    write(repo, "notes.txt", "untracked notes\n")
    plan = {"goal": "edit a", "steps": [edit("e", "a.py", "A = 1", "A = 2"), commit()]}
    report, _ = await run_collecting(plan, repo)
    assert report.status == "completed", report.error
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["a.py"]
    assert git(repo, "status", "--porcelain").splitlines() == [" M mine.py", "?? notes.txt"]

    before = snapshot(repo)
    plan = {"goal": "edit mine", "steps": [edit("e", "mine.py", "MINE", "YOURS"), commit()]}
    report, events = await run_collecting(plan, repo)
    # Refused before anything ran: the dry run of the writes knows the user's files.
    assert report.status == "stopped" and report.failure_kind == "preflight"
    assert "step 'e': mine.py has uncommitted changes of yours" in (report.error or "")
    assert not [e for e in events if e.get("status") == "running"]
    assert snapshot(repo) == before


async def test_a_write_that_would_fail_stops_the_run_before_anything_runs(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"a.py": "A = 1\nA = 1\n", "b.py": "B = 2\n", "test_a.py": TESTS})
    before = snapshot(repo)
    plan = {
        "goal": "edits the dry run refuses",
        "steps": [
            {"id": "find", "skill": "rg_search", "args": {"pattern": "A"}},
            edit("e1", "b.py", "B = 2", "B = 3"),
            edit("twice", "a.py", "A = 1", "A = 2"),
            edit("ghost", "nowhere.py", "x", "y"),
            edit("stale", "b.py", "B = 2", "B = 4"),
            *verifies(),
            commit(),
        ],
    }
    report, events = await run_collecting(plan, repo)
    assert report.status == "stopped" and report.failure_kind == "preflight"
    error = report.error or ""
    # One error lists every problem, each naming its step.
    assert "step 'twice': search text 'A = 1' matches 2 times in 'a.py'" in error
    assert "step 'ghost': nowhere.py does not exist; use write_file" in error
    assert "step 'stale' (on b.py as the plan's earlier writes leave it): search text" in error
    assert "'e1'" not in error
    # No read, no baseline, no write ran.
    assert not [e for e in events if e.get("status") == "running"]
    assert snapshot(repo) == before


async def test_input_and_preflight_failures_touch_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("A = 1\n")
    before = snapshot(plain)
    plan = {"goal": "commit outside git", "steps": [edit("e", "a.py", "A = 1", "A = 2"), commit()]}
    report, events = await run_collecting(plan, plain)
    assert report.status == "stopped" and report.failure_kind == "preflight"
    assert "not a git repository" in (report.error or "")
    assert snapshot(plain) == before
    assert not [e for e in events if e.get("status") == "running"]

    report, _ = await run_collecting({"goal": "g", "steps": [{"id": "x", "skill": "nope"}]}, plain)
    assert report.failure_kind == "input" and "unknown skill 'nope'" in (report.error or "")
    report, _ = await run_collecting({"goal": "g", "steps": []}, tmp_path / "missing")
    assert report.failure_kind == "preflight" and "is not a directory" in (report.error or "")
