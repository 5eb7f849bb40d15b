"""One run per workspace, and undo back to the exact bytes from before a run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.durable import FILES, PLAN, cli, commits, make, tree
from support.repos import git, require_program, snapshot, write

from phasegraph import Report, as_tool, build_orchestrator, run_plan
from phasegraph.graph.durable.lock import workspace_lock
from phasegraph.skills.core.errors import WorkspaceBusy

WAITING_TEST = (
    "import pathlib, time\n\n\ndef test_waits_while_held() -> None:\n"
    "    for _ in range(600):\n"
    "        if not pathlib.Path('hold').exists():\n            return\n"
    "        time.sleep(0.1)\n"
)


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


def lock_holder(repo: Path) -> dict[str, object]:
    try:
        data = json.loads((repo / ".phasegraph" / "lock").read_text() or "{}")
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def test_a_second_run_is_refused_until_the_first_dies(tmp_path: Path) -> None:
    repo, plan = make(tmp_path, {"test_wait.py": WAITING_TEST})
    (repo / "hold").write_text("the first run's tests wait while this file exists\n")
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "phasegraph.cli.main",
            "run",
            str(plan),
            "-w",
            str(repo),
            "--thread",
            "first",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # until the first run holds the lock (bounded: 60 s)
            if lock_holder(repo).get("thread") == "first":
                break
            time.sleep(0.1)
        assert lock_holder(repo).get("thread") == "first"
        second = cli("run", str(plan), "-w", str(repo), "--thread", "second")
        assert second.returncode == 2
        assert "another run is active" in second.stderr and "thread first" in second.stderr
        assert git(repo, "log", "--format=%s").splitlines() == ["initial"]
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    (repo / "hold").unlink()
    third = cli("run", str(plan), "-w", str(repo), "--thread", "third")
    assert third.returncode == 0, third.stdout + third.stderr
    assert commits(repo) == ["Grow the constants", "initial"]


def user_changes(repo: Path) -> None:
    """Unrelated uncommitted work: a modified tracked file and an untracked one."""
    write(repo, "test_calc.py", FILES["test_calc.py"] + "# the user's note\n")
    write(repo, "notes.txt", "mine, not committed\n")


def test_undo_after_a_completed_run_restores_the_exact_bytes(tmp_path: Path) -> None:
    repo, plan = make(tmp_path)
    user_changes(repo)
    before, head_tree = snapshot(repo), git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert cli("run", str(plan), "-w", str(repo), "--thread", "t1").returncode == 0
    assert commits(repo) == ["Grow the constants", "initial"]
    out = cli("undo", "t1", "-w", str(repo))
    assert out.returncode == 0, out.stdout + out.stderr
    assert tree(repo) == before
    assert commits(repo)[0] == 'Revert "Grow the constants"'
    assert git(repo, "rev-parse", "HEAD^{tree}").strip() == head_tree
    assert git(repo, "status", "--porcelain").splitlines() == [" M test_calc.py", "?? notes.txt"]


def test_undo_after_a_stopped_run_restores_the_exact_bytes(tmp_path: Path) -> None:
    repo, _ = make(tmp_path)
    user_changes(repo)
    stopped = {
        "goal": "stops at the third write",
        "steps": [
            *PLAN["steps"][1:3],
            PLAN["steps"][4],
            # pkg is a folder by then: the write fails when it runs (no dry run foresees it).
            {"id": "bad", "skill": "write_file", "args": {"path": "pkg", "content": "x"}},
            PLAN["steps"][-1],
        ],
    }
    plan = tmp_path / "stopped.json"
    plan.write_text(json.dumps(stopped))
    before = snapshot(repo)
    out = cli("run", str(plan), "-w", str(repo), "--thread", "t1")
    assert out.returncode == 1
    assert tree(repo) != before
    undo = cli("undo", "t1", "-w", str(repo))
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert tree(repo) == before
    assert not (repo / "pkg").exists()
    assert commits(repo) == ["initial"]


def test_undo_refuses_to_throw_away_later_changes(tmp_path: Path) -> None:
    repo, plan = make(tmp_path)
    assert cli("run", str(plan), "-w", str(repo), "--thread", "t1").returncode == 0
    write(repo, "more.py", "C = 3 + 30  # edited after the run\n")
    kept = snapshot(repo)
    out = cli("undo", "t1", "-w", str(repo))
    assert out.returncode == 2
    assert "more.py changed after the run" in out.stderr and "--force" in out.stderr
    assert snapshot(repo) == kept
    assert cli("undo", "t1", "-w", str(repo), "--force").returncode == 0
    assert (repo / "more.py").read_text() == FILES["more.py"]
    again = cli("undo", "t1", "-w", str(repo))
    assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stderr


def test_resume_locks_the_workspace_the_run_works_in_not_the_one_named(tmp_path: Path) -> None:
    repo, plan = make(tmp_path)
    db = str(tmp_path / "shared.sqlite")
    killed = cli(
        "run",
        str(plan),
        "-w",
        str(repo),
        "--thread",
        "t1",
        "--db",
        db,
        env={"PHASEGRAPH_FAILPOINT": "before-write:e2"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    half = tree(repo)
    other = tmp_path / "other"
    other.mkdir()
    with workspace_lock(repo, "theirs"):
        refused = cli("resume", "t1", "-w", str(other), "--db", db)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "another run is active" in refused.stderr and "thread theirs" in refused.stderr
        assert tree(repo) == half
    resumed = cli("resume", "t1", "-w", str(other), "--db", db)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert commits(repo) == ["Grow the constants", "initial"]


def small_plan() -> dict[str, object]:
    return {
        "goal": "one write",
        "steps": [{"id": "w", "skill": "write_file", "args": {"path": "new.py", "content": "N\n"}}],
    }


async def test_a_library_run_is_refused_while_another_run_holds_the_workspace(
    tmp_path: Path,
) -> None:
    repo, _ = make(tmp_path)
    before = tree(repo)
    with workspace_lock(repo, "theirs"), pytest.raises(WorkspaceBusy, match="thread theirs"):
        await run_plan(build_orchestrator(), small_plan(), repo)
    assert tree(repo) == before
    report = await run_plan(build_orchestrator(), small_plan(), repo)  # free again: it runs
    assert report.status == "completed" and (repo / "new.py").exists()


async def test_an_as_tool_run_is_refused_while_another_run_holds_the_workspace(
    tmp_path: Path,
) -> None:
    repo, _ = make(tmp_path)
    before = tree(repo)
    with workspace_lock(repo, "theirs"):
        answer = await as_tool().ainvoke({"plan": small_plan(), "workspace": str(repo)})
    assert "another run is active" in str(answer) and "thread theirs" in str(answer)
    assert tree(repo) == before


async def test_a_plain_graph_invoke_does_not_write_while_another_run_holds_the_workspace(
    tmp_path: Path,
) -> None:
    repo, _ = make(tmp_path)
    before = tree(repo)
    with workspace_lock(repo, "theirs"):
        final = await build_orchestrator().ainvoke({"plan": small_plan(), "workspace": str(repo)})
    assert final["report"]["status"] == "stopped"
    assert "another run is active" in final["report"]["error"]
    assert tree(repo) == before


async def test_two_concurrent_library_runs_on_one_workspace_never_both_run(
    tmp_path: Path,
) -> None:
    repo, _ = make(tmp_path)
    graph = build_orchestrator()
    plans = [small_plan(), {**small_plan(), "goal": "the other one"}]
    outcomes = await asyncio.gather(
        *(run_plan(graph, plan, repo) for plan in plans), return_exceptions=True
    )
    busy = [o for o in outcomes if isinstance(o, WorkspaceBusy)]
    done = [o for o in outcomes if isinstance(o, Report)]
    assert len(busy) == 1 and len(done) == 1, outcomes
    assert done[0].status == "completed"
