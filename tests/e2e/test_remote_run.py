"""Remote runs: a repository named by URL is cloned into the owner's work directory, changed
the careful way, and its commit pushed to a new branch; refused, blocked and failed runs push
nothing. Real bare repositories served by file:// URL, the real git, ruff and pytest."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.durable import FILES, PLAN
from support.remotes import bare_remote, branch_head, commits_on, file_at
from support.repos import git

from phasegraph import UndoError, build_orchestrator, undo_remote_run
from phasegraph.graph.run import run_remote

BROKEN = {
    "goal": "break the sum",
    "steps": [
        {
            "id": "e1",
            "skill": "edit_block",
            "args": {"path": "calc.py", "search": "A = 1", "replace": "A = -10"},
        },
        {"id": "tests", "skill": "run_pytest"},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Break it"}},
    ],
}


def clones(tmp_path: Path, work: str = "work") -> list[str]:
    folder = tmp_path / work
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


async def test_a_remote_run_pushes_one_commit_to_a_new_branch_and_leaves_no_clone(
    remote_owner: Path, tmp_path: Path
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)
    base = branch_head(bare, "main")

    report = await run_remote(build_orchestrator(), PLAN, repo=url, push="phasegraph/grow")

    assert report.status == "completed", report.error
    assert report.remote is not None and report.remote.pushed
    assert report.remote.base == base and report.remote.branch == "phasegraph/grow"
    assert report.commit == report.remote.commit == branch_head(bare, "phasegraph/grow")
    assert commits_on(bare, "phasegraph/grow") == ["Grow the constants"]
    assert file_at(bare, "phasegraph/grow", "calc.py") == "A = 1 + 10\nB = 2 + 20\n"
    assert branch_head(bare, "main") == base  # the ref it started from never moves
    assert (report.steps[0].id, report.steps[-1].id) == ("remote:checkout", "remote:push")
    assert clones(tmp_path) == []  # the clone is removed once the report is built
    # Undo deletes the branch it pushed (as long as no one built on it).
    deletion = [c for c in report.undo if c.startswith("git push")]
    assert deletion and "--force-with-lease=refs/heads/phasegraph/grow:" in deletion[0]


async def test_a_remote_not_on_the_owners_list_is_refused_before_anything_is_cloned(
    remote_owner: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _, url = bare_remote(elsewhere, "calc", FILES)

    report = await run_remote(build_orchestrator(), PLAN, repo=url, push="phasegraph/grow")

    assert report.status == "stopped" and report.failure_kind == "input"
    assert "PHASEGRAPH_REMOTES" in (report.error or "")
    assert clones(tmp_path) == []
    assert report.remote is None and report.undo == []


async def test_a_change_that_breaks_a_test_is_blocked_and_nothing_is_pushed(
    remote_owner: Path, tmp_path: Path
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)

    report = await run_remote(build_orchestrator(), BROKEN, repo=url, push="phasegraph/break")

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.new_findings["tests"]
    assert branch_head(bare, "phasegraph/break") is None
    assert report.remote is not None and not report.remote.pushed and report.undo == []
    assert "A = -10" in report.diff  # what was tried stays in the report
    assert clones(tmp_path) == []


async def test_the_prepare_step_runs_after_the_clone_and_its_failure_stops_before_any_write(
    remote_owner: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)
    prepare = f"{sys.executable} -c \"import sys; sys.exit('no lock file')\""
    monkeypatch.setenv("PHASEGRAPH_PREPARE", prepare)

    report = await run_remote(build_orchestrator(), PLAN, repo=url, push="phasegraph/grow")

    assert report.status == "stopped"
    assert (report.failed_step, report.failure_kind) == ("remote:prepare", "preflight")
    assert "no lock file" in (report.error or "")
    assert report.written == [] and branch_head(bare, "phasegraph/grow") is None
    assert [(s.id, s.status) for s in report.steps] == [
        ("remote:checkout", "done"),
        ("remote:prepare", "failed"),
    ]


async def test_a_repository_may_name_only_a_prepare_step_the_owner_allows(
    remote_owner: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = "__import__('pathlib').Path('.prepared').write_text('yes')"
    allowed = f'{sys.executable} -c "{marker}"'
    monkeypatch.setenv("PHASEGRAPH_PREPARE_ALLOW", allowed)
    table = f"\n[tool.phasegraph]\nprepare = {json.dumps(allowed)}\n"
    pyproject = FILES["pyproject.toml"] + table
    bare, url = bare_remote(remote_owner, "calc", {**FILES, "pyproject.toml": pyproject})
    events: list[Mapping[str, Any]] = []

    report = await run_remote(
        build_orchestrator(), PLAN, repo=url, push="phasegraph/grow", on_event=events.append
    )

    assert report.status == "completed", report.error
    assert any(e.get("id") == "remote:prepare" and e.get("status") == "done" for e in events)
    # What the prepare step made is the environment's, never part of the run's commit.
    assert ".prepared" not in git(bare, "ls-tree", "-r", "--name-only", "phasegraph/grow")

    hostile = FILES["pyproject.toml"] + '\n[tool.phasegraph]\nprepare = "rm -rf /"\n'
    bare2, url2 = bare_remote(remote_owner, "hostile", {**FILES, "pyproject.toml": hostile})
    refused = await run_remote(build_orchestrator(), PLAN, repo=url2, push="phasegraph/grow")
    assert refused.status == "stopped" and refused.failed_step == "remote:prepare"
    assert "PHASEGRAPH_PREPARE_ALLOW" in (refused.error or "")
    assert branch_head(bare2, "phasegraph/grow") is None


async def test_a_branch_that_exists_with_other_commits_is_never_overwritten(
    remote_owner: Path, tmp_path: Path
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)
    git(bare, "branch", "phasegraph/grow", "main")  # someone's branch of that name
    theirs = branch_head(bare, "phasegraph/grow")
    clone = tmp_path / "theirs"
    git(tmp_path, "clone", "-q", url, str(clone))
    git(clone, "switch", "-q", "phasegraph/grow")
    (clone / "theirs.txt").write_text("their work\n")
    git(clone, "add", "theirs.txt")
    git(clone, "commit", "-q", "-m", "their work")
    git(clone, "push", "-q", "origin", "phasegraph/grow")
    theirs = branch_head(bare, "phasegraph/grow")

    report = await run_remote(build_orchestrator(), PLAN, repo=url, push="phasegraph/grow")

    assert report.status == "stopped" and report.failure_kind == "remote"
    assert report.failed_step == "remote:push"
    assert branch_head(bare, "phasegraph/grow") == theirs


DRIVER = """
import asyncio, json, sys
from phasegraph import UndoError, build_orchestrator, undo_remote_run
from phasegraph.graph.durable.persistence import open_persistence
from phasegraph.graph.run import resume_run, run_remote

async def main(mode, db, url, plan):
    async with open_persistence(db) as (saver, store):
        graph = build_orchestrator(checkpointer=saver, store=store)
        if mode == "start":
            report = await run_remote(graph, json.loads(plan), repo=url, push="phasegraph/grow",
                                      thread_id="t1")
        else:
            report = await resume_run(graph, "t1")
    print(json.dumps(report.model_dump(mode="json")))

asyncio.run(main(*sys.argv[1:]))
"""


def drive(tmp_path: Path, work: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PHASEGRAPH_WORK_DIR": str(tmp_path / work), **env},
    )


@pytest.mark.parametrize(
    ("point", "elsewhere"),
    [
        ("write-landed:e2", True),
        ("after-write:e3", True),
        ("commit-landed", True),
        # The same machine, its dead worker's clone still there: made anew all the same.
        ("after-write:e3", False),
    ],
)
def test_a_run_killed_mid_writes_is_taken_over_in_another_work_dir_and_pushes_one_commit(
    remote_owner: Path, tmp_path: Path, point: str, elsewhere: bool
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)
    db = str(tmp_path / "state.sqlite")  # the server's database: it outlives the worker
    plan = json.dumps(PLAN)

    killed = drive(tmp_path, "worker-a", "start", db, url, plan, PHASEGRAPH_FAILPOINT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert clones(tmp_path, "worker-a")  # the dead worker's clone, on its own disk...
    if elsewhere:
        shutil.rmtree(tmp_path / "worker-a")  # ...which went with it
    other = "worker-b" if elsewhere else "worker-a"

    resumed = drive(tmp_path, other, "resume", db, url, plan)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout.splitlines()[-1])

    assert report["status"] == "completed", report["error"]
    assert report["remote"]["pushed"]
    assert commits_on(bare, "phasegraph/grow") == ["Grow the constants"]
    assert file_at(bare, "phasegraph/grow", "calc.py") == "A = 1 + 10\nB = 2 + 20\n"
    assert file_at(bare, "phasegraph/grow", "more.py") == "C = 3 + 30\n"
    assert file_at(bare, "phasegraph/grow", "pkg/new.py") == "D = 4\n"
    assert clones(tmp_path, other) == []


def test_a_run_whose_remote_is_gone_when_taken_over_stops_with_a_report(
    remote_owner: Path, tmp_path: Path
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)
    db = str(tmp_path / "state.sqlite")
    plan = json.dumps(PLAN)
    killed = drive(
        tmp_path, "worker-a", "start", db, url, plan, PHASEGRAPH_FAILPOINT="write-landed:e2"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    shutil.rmtree(bare)  # the repository was deleted meanwhile

    resumed = drive(tmp_path, "worker-b", "resume", db, url, plan)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout.splitlines()[-1])
    assert report["status"] == "stopped" and report["failure_kind"] == "remote"
    assert "could not take the run over" in report["error"]
    assert report["remote"]["pushed"] is False


async def test_a_remote_runs_undo_deletes_the_branch_it_pushed(
    remote_owner: Path, tmp_path: Path
) -> None:
    bare, url = bare_remote(remote_owner, "calc", FILES)
    report = await run_remote(build_orchestrator(), PLAN, repo=url, push="phasegraph/grow")
    assert branch_head(bare, "phasegraph/grow") == report.commit

    assert await undo_remote_run(report) == "deleted branch phasegraph/grow"
    assert branch_head(bare, "phasegraph/grow") is None
    assert await undo_remote_run(report) == "branch phasegraph/grow is already gone"

    refused = await run_remote(build_orchestrator(), PLAN, repo=url, push="main")
    with pytest.raises(UndoError, match="pushed nothing"):
        await undo_remote_run(refused)
