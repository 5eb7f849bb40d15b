"""Undo always finishes: an undo killed with SIGKILL at any point (mid-restore, before its
revert commit, after the revert landed) is finished by the next `undo`, without --force and
without taking its own work for the user's; a real edit of the user's is still never thrown
away without --force. The undo runs in a real process, killed by the failpoints it passes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.durable import cli, commits
from support.repos import git, init_repo, require_program, snapshot, write

from phasegraph import build_orchestrator, open_persistence, run_plan
from phasegraph.graph.durable.persistence import default_db
from phasegraph.graph.durable.undo import undo_run
from phasegraph.graph.durable.undo_journal import UndoJournal
from phasegraph.skills.core.errors import UndoError

FILES = {f"f{i}.py": f"V{i} = {i}\n" for i in range(6)} | {"keep.py": "K = 0\n"}
WRITES = [
    *(
        {
            "id": f"w{i}",
            "skill": "write_file",
            "args": {"path": f"f{i}.py", "content": f"V{i} = 1{i}\n"},
        }
        for i in range(6)
    ),
    {"id": "new", "skill": "write_file", "args": {"path": "pkg/deep/new.py", "content": "N = 1\n"}},
]
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Grow the values"}}
#: What undo needs of a run's final state (the CLI reads the same keys from its checkpoints).
KEYS = ("workspace", "head", "written", "created", "written_sha", "run_id", "commit_sha")

#: The undo a failpoint kills: a real process, with the library's undo.
UNDO = """
import asyncio, json, sys
from phasegraph.graph.durable.undo import undo_run
values = json.loads(open(sys.argv[1]).read())
asyncio.run(undo_run(values, force=sys.argv[2] == "force"))
"""


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


class Case:
    """A copy of a template workspace after its run, and the run's state pointing at it."""

    def __init__(self, template: tuple[Path, dict[str, Any]], root: Path) -> None:
        source, values = template
        self.repo = root / "repo"
        shutil.copytree(source, self.repo, symlinks=True)
        self.values = {**values, "workspace": str(self.repo)}
        self.state = root / "values.json"
        self.state.write_text(json.dumps(self.values))

    def killed(self, failpoint: str, *, force: bool = False) -> None:
        """Undo in a process of its own, which the failpoint kills with SIGKILL."""
        env = {**os.environ, "PHASEGRAPH_FAILPOINT": failpoint}
        out = subprocess.run(
            [sys.executable, "-c", UNDO, str(self.state), "force" if force else ""],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert out.returncode == -signal.SIGKILL, out.stdout + out.stderr

    def undo(self, *, force: bool = False) -> dict[str, Any]:
        """Undo again, here (the next undo is an ordinary one: no failpoint)."""
        return dataclasses.asdict(asyncio.run(undo_run(self.values, force=force)))

    def refused(self) -> str:
        with pytest.raises(UndoError) as refused:
            asyncio.run(undo_run(self.values))
        return str(refused.value)


def _template(root: Path, commit: bool) -> tuple[Path, dict[str, Any]]:
    repo = init_repo(root / "repo", FILES)
    # The user's own work, which no undo may touch: a modified file and an untracked one.
    write(repo, "keep.py", "K = 'mine, uncommitted'\n")
    write(repo, "notes.txt", "mine\n")
    plan = {"goal": "grow the values", "steps": [*WRITES, *([COMMIT] if commit else [])]}
    final = asyncio.run(build_orchestrator().ainvoke({"plan": plan, "workspace": str(repo)}))
    assert final["report"]["status"] == "completed", final["report"]
    return repo, {k: final.get(k) for k in KEYS}


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return _template(tmp_path_factory.mktemp("committed"), commit=True)


@pytest.fixture(scope="module")
def uncommitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return _template(tmp_path_factory.mktemp("uncommitted"), commit=False)


def before_run() -> dict[str, bytes]:
    """The tree before the run: the repo's files and the user's uncommitted work."""
    return {
        **{k: v.encode() for k, v in FILES.items()},
        "keep.py": b"K = 'mine, uncommitted'\n",
        "notes.txt": b"mine\n",
    }


def assert_undone(case: Case, *, committed: bool) -> None:
    repo = case.repo
    assert snapshot(repo) == before_run()
    assert not (repo / "pkg").exists()  # the folders the run made went with its file
    assert git(repo, "status", "--porcelain").splitlines() == [" M keep.py", "?? notes.txt"]
    start = case.values["head"]
    if committed:  # the revert, exactly once, on the run's commit: HEAD's tree is the start's
        assert commits(repo) == ['Revert "Grow the values"', "Grow the values", "initial"]
        assert git(repo, "rev-parse", "HEAD~1").strip() == case.values["commit_sha"]
        body = git(repo, "log", "-1", "--format=%B")
        assert f"Phasegraph-Undo: {case.values['run_id']}" in body
    else:
        assert git(repo, "rev-parse", "HEAD").strip() == start
    assert (
        git(repo, "rev-parse", "HEAD^{tree}").strip()
        == git(repo, "rev-parse", f"{start}^{{tree}}").strip()
    )
    again = case.undo()  # a second undo: nothing to do, and it says so
    assert again["nothing_to_undo"] and not again["restored"] and not again["removed"]
    assert snapshot(repo) == before_run()
    assert len(commits(repo)) == (3 if committed else 1)


@pytest.mark.parametrize("point", ["undo-restored:3", "undo-before-revert", "undo-revert-landed"])
def test_an_undo_killed_at_any_point_is_finished_by_the_next(
    point: str, committed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    case = Case(committed, tmp_path)
    case.killed(point)
    half = snapshot(case.repo)
    if point == "undo-restored:3":
        assert half["f0.py"] == FILES["f0.py"].encode() and half["f5.py"] == b"V5 = 15\n"
        assert commits(case.repo)[0] == "Grow the values"
    elif point == "undo-before-revert":  # the issue: every file back, HEAD the run's commit
        assert half == before_run()
        assert commits(case.repo)[0] == "Grow the values"
    else:
        assert commits(case.repo)[0] == 'Revert "Grow the values"'

    done = case.undo()  # no --force: nothing here is the user's

    assert done["resumed"] and not done["nothing_to_undo"]
    if point == "undo-restored:3":
        assert done["restored"] == ["f3.py", "f4.py", "f5.py"]
        assert done["removed"] == ["pkg/deep/new.py"]
    else:
        assert done["restored"] == [] and done["removed"] == []
    assert done["commit_found"] == (point == "undo-revert-landed")
    assert done["commit"] == git(case.repo, "rev-parse", "HEAD").strip()
    assert_undone(case, committed=True)


def test_an_undo_of_an_uncommitted_run_killed_mid_restore_is_finished(
    uncommitted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    case = Case(uncommitted, tmp_path)
    case.killed("undo-restored:5")
    done = case.undo()
    assert done["resumed"] and done["restored"] == ["f5.py"]
    assert done["removed"] == ["pkg/deep/new.py"] and done["commit"] is None
    assert_undone(case, committed=False)


def test_a_revert_owed_without_a_journal_is_still_committed(
    committed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Every file back but no revert and no journal (an undo from before journals was killed
    there): undo commits the revert instead of saying "nothing to undo"."""
    case = Case(committed, tmp_path)
    case.killed("undo-before-revert")
    journal = UndoJournal(case.repo, case.values["run_id"])
    assert journal.path.stat().st_mode & 0o777 == 0o600  # owner only, like the pre-images
    assert journal.load()["stage"] == "committing"
    journal.path.unlink()
    done = case.undo()
    assert done["commit"] and not done["resumed"]
    assert_undone(case, committed=True)


@pytest.mark.parametrize("edited", ["f1.py", "f4.py"])  # already put back / not yet
def test_a_user_edit_after_an_interrupted_undo_is_not_thrown_away_without_force(
    edited: str, committed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    case = Case(committed, tmp_path)
    case.killed("undo-restored:3")
    write(case.repo, edited, "V = 'the user, after the interrupted undo'\n")
    kept, log = snapshot(case.repo), commits(case.repo)

    refused = case.refused()

    assert f"{edited} changed after the run" in refused and "--force" in refused
    assert "f0.py" not in refused and "f3.py" not in refused  # put back / the run's: not blamed
    assert snapshot(case.repo) == kept and commits(case.repo) == log
    done = case.undo(force=True)
    assert done["resumed"]
    assert_undone(case, committed=True)


def test_a_forced_undo_killed_midway_finishes_without_force_only_for_the_same_bytes(
    committed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """--force was given for the user's edit of f5.py as it was then: finishing that undo
    discards those bytes without a second --force, but not a newer edit."""
    case = Case(committed, tmp_path)
    write(case.repo, "f5.py", "V5 = 'edited after the run'\n")
    assert "f5.py changed after the run" in case.refused()  # nothing happens without --force
    case.killed("undo-restored:2", force=True)
    write(case.repo, "f5.py", "V5 = 'edited again, after the interrupted undo'\n")
    assert "f5.py changed after the run" in case.refused()
    write(case.repo, "f5.py", "V5 = 'edited after the run'\n")  # what --force was told about
    done = case.undo()
    assert done["resumed"] and "f5.py" in done["restored"]
    assert_undone(case, committed=True)


async def _run_into_the_cli_database(repo: Path, plan: dict[str, Any], thread: str) -> None:
    """The run as `phasegraph run --thread` keeps it (its default database under the
    workspace), made here: the CLI's own run would only cost the test seconds."""
    async with open_persistence(default_db(repo)) as (saver, store):
        graph = build_orchestrator(checkpointer=saver, store=store)
        report = await run_plan(graph, plan, repo, thread_id=thread)
    assert report.status == "completed", report


def test_the_cli_finishes_an_undo_killed_after_its_revert_landed(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", FILES)
    plan = {"goal": "grow", "steps": [*WRITES[:2], COMMIT]}
    asyncio.run(_run_into_the_cli_database(repo, plan, "t1"))
    run_commit = git(repo, "rev-parse", "HEAD").strip()
    killed = cli("undo", "t1", "-w", str(repo), env={"PHASEGRAPH_FAILPOINT": "undo-revert-landed"})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    again = cli("undo", "t1", "-w", str(repo))

    assert again.returncode == 0, again.stdout + again.stderr
    assert "finished an interrupted undo" in again.stdout
    assert "already committed" in again.stdout
    assert commits(repo) == ['Revert "Grow the values"', "Grow the values", "initial"]
    assert git(repo, "rev-parse", "HEAD~1").strip() == run_commit
    assert snapshot(repo) == {k: v.encode() for k, v in FILES.items()}
    assert git(repo, "status", "--porcelain") == ""
    third = cli("undo", "t1", "-w", str(repo))  # done: says so, and exits 0
    assert third.returncode == 0, third.stdout + third.stderr
    assert "nothing to undo" in third.stdout
    assert len(commits(repo)) == 3
