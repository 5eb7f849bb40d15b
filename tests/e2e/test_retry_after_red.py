"""A run an agent can retry: after a red gate the tree is put back (``on_stop="restore"``)
or kept, the report carries the run id and the tried diff, undo finds a library run by its
id (no checkpointer), and a plan run again after it was applied completes.

Real repositories, real git and pytest; no model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.durable import cli
from support.repos import git, require_program, snapshot

from phasegraph import Report, RunOptions, build_orchestrator, run_plan, undo_by_run_id
from phasegraph.graph.model.context import served_options
from phasegraph.skills.core.errors import InputRefused, UndoError

MakeRepo = Callable[[dict[str, str]], Path]

FILES = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": (
        "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    ),
    "notes.txt": "the user's notes\n",
}


def plan(body: str, *, commit: bool = True, extra: str = "X = 1\n") -> dict[str, Any]:
    """Edit ``add``'s body to ``body``, create helpers/extra.py, test, commit."""
    steps: list[dict[str, Any]] = [
        {
            "id": "edit",
            "skill": "edit_block",
            "args": {"path": "calc.py", "search": "return a + b", "replace": body},
        },
        {
            "id": "new",
            "skill": "write_file",
            "args": {"path": "helpers/extra.py", "content": extra},
        },
        {"id": "tests", "skill": "run_pytest"},
    ]
    if commit:
        steps.append({"id": "commit", "skill": "git_checkpoint", "args": {"message": "Tidy add"}})
    return {"goal": "tidy add", "steps": steps}


BROKEN = plan("return a - b")
FIXED = plan("return b + a")


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg"):
        require_program(name)


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    """A repository with the user's own uncommitted work: a changed file and a new one."""
    made = make_repo(FILES)
    (made / "notes.txt").write_text("the user's notes, edited and not committed\n")
    (made / "scratch.txt").write_text("untracked, the user's\n")
    return made


async def run(plan: dict[str, Any], repo: Path, **options: Any) -> Report:
    """A library run, as an agent's tool makes it: no checkpointer."""
    return await run_plan(build_orchestrator(), plan, repo, options=RunOptions(**options))


def commits(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


async def test_a_red_gate_with_restore_puts_the_tree_back_and_the_retry_commits(
    repo: Path,
) -> None:
    before, status = snapshot(repo), git(repo, "status", "--porcelain")

    red = await run(BROKEN, repo, on_stop="restore")

    assert red.status == "stopped", red
    assert red.failed_step == "tests"
    assert red.restored is True
    # Byte for byte as before, the user's dirty and untracked files included.
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == status
    assert not (repo / "helpers").exists()  # the folder the run made went with its file
    assert red.run_id
    assert "--- a/calc.py\n+++ b/calc.py\n" in red.diff
    assert "-    return a + b\n+    return a - b\n" in red.diff
    assert "--- /dev/null\n+++ b/helpers/extra.py\n" in red.diff
    assert red.undo == []  # nothing left to undo
    assert any("put back as it was before the run" in note for note in red.notes)
    assert "test_add" in " ".join(f.finding for fs in red.new_findings.values() for f in fs)

    # The agent's next call, at once: not refused as "uncommitted changes of yours".
    fixed = await run(FIXED, repo, on_stop="restore")

    assert fixed.status == "completed", fixed
    assert fixed.commit and fixed.restored is False
    assert commits(repo) == ["Tidy add", "initial"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "calc.py",
        "helpers/extra.py",
    ]
    assert (repo / "notes.txt").read_text() == "the user's notes, edited and not committed\n"
    assert (repo / "scratch.txt").read_text() == "untracked, the user's\n"
    assert "+    return b + a\n" in fixed.diff


async def test_keep_leaves_the_tried_change_and_undo_by_run_id_puts_it_back(repo: Path) -> None:
    before = snapshot(repo)

    red = await run(BROKEN, repo)  # on_stop="keep": the default

    assert red.status == "stopped" and red.restored is False
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert (repo / "helpers/extra.py").read_text() == "X = 1\n"
    assert "+    return a - b\n" in red.diff
    assert red.run_id and red.thread

    done = await undo_by_run_id(repo, red.run_id)

    assert snapshot(repo) == before
    assert done.restored == ["calc.py"] and done.removed == ["helpers/extra.py"]
    assert done.commit is None
    again = await undo_by_run_id(repo, red.run_id)  # a second undo finds it done
    assert again.nothing_to_undo


async def test_undo_by_thread_reverts_a_committed_library_run(repo: Path) -> None:
    tracked = {k: v for k, v in snapshot(repo).items() if k != "scratch.txt"}

    fixed = await run(FIXED, repo)
    assert fixed.status == "completed" and fixed.commit, fixed
    assert fixed.thread

    done = await undo_by_run_id(repo, fixed.thread)  # the report's thread finds it too

    assert done.commit and done.commit != fixed.commit
    assert commits(repo) == ['Revert "Tidy add"', "Tidy add", "initial"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "calc.py",
        "helpers/extra.py",
    ]
    assert {k: v for k, v in snapshot(repo).items() if k != "scratch.txt"} == tracked
    assert (repo / "notes.txt").read_text() == "the user's notes, edited and not committed\n"


async def test_undo_by_run_id_names_a_run_it_does_not_know(repo: Path) -> None:
    with pytest.raises(UndoError, match=r"no run 'nope' is recorded in .*\.phasegraph/runs"):
        await undo_by_run_id(repo, "nope")
    with pytest.raises(UndoError, match="not a directory"):
        await undo_by_run_id(repo / "missing", "nope")


async def test_the_cli_undoes_a_library_run_by_its_run_id(repo: Path) -> None:
    before = snapshot(repo)
    red = await run(BROKEN, repo)
    assert red.run_id

    listed = cli("runs", "-w", str(repo), "--json")
    assert listed.returncode == 0, listed.stderr
    assert f'"run_id": "{red.run_id}"' in listed.stdout
    assert '"status": "stopped"' in listed.stdout

    undone = cli("undo", red.run_id, "-w", str(repo))

    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert "undone" in undone.stdout and "restored calc.py" in undone.stdout
    assert snapshot(repo) == before

    unknown = cli("undo", "no-such-run", "-w", str(repo))
    assert unknown.returncode != 0
    assert "no run no-such-run" in unknown.stdout + unknown.stderr
    assert "run records" in unknown.stdout + unknown.stderr


async def test_a_plan_run_again_after_it_was_applied_completes(repo: Path) -> None:
    first = await run(FIXED, repo)
    assert first.status == "completed" and first.commit, first

    again = await run(FIXED, repo)

    assert again.status == "completed", again
    assert again.commit is None and again.error is None
    steps = {s.id: s for s in again.steps}
    assert "already applied" in steps["edit"].summary
    assert steps["commit"].status == "done"
    assert "nothing to commit" in steps["commit"].summary
    assert "every write was already applied" in steps["commit"].summary
    assert commits(repo) == ["Tidy add", "initial"]
    assert again.diff == ""  # the run changed nothing


async def test_writes_that_changed_files_back_to_head_still_fail_to_commit(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(FILES)
    there_and_back = {
        "goal": "there and back",
        "steps": [
            {
                "id": "there",
                "skill": "edit_block",
                "args": {"path": "calc.py", "search": "return a + b", "replace": "return a+b"},
            },
            {
                "id": "back",
                "skill": "edit_block",
                "args": {"path": "calc.py", "search": "return a+b", "replace": "return a + b"},
                "after": ["there"],
            },
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Nothing"}},
        ],
    }

    report = await run(there_and_back, repo)

    assert report.status == "stopped", report
    assert report.failed_step == "commit"
    assert "nothing to commit" in (report.error or "")
    assert commits(repo) == ["initial"]


def test_a_served_client_may_choose_either_on_stop() -> None:
    assert served_options(RunOptions(on_stop="restore"), {}).on_stop == "restore"
    assert served_options(RunOptions(), {}).on_stop == "keep"
    with pytest.raises(InputRefused, match="on_stop"):
        served_options(RunOptions(on_stop="discard"), {})  # type: ignore[arg-type]
