"""Undo puts back the exact bytes of every file a run overwrote, removed or created, with or
without git: the writer keeps each file's pre-image in the workspace's ``.phasegraph/``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, require_program, snapshot

from phasegraph import build_orchestrator
from phasegraph.graph.durable import undo
from phasegraph.graph.durable.undo import undo_run

MakeRepo = Callable[[dict[str, str]], Path]


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def write_file(step_id: str, path: str, content: str) -> dict[str, Any]:
    return {"id": step_id, "skill": "write_file", "args": {"path": path, "content": content}}


async def run(plan: dict[str, Any], workspace: Path) -> dict[str, Any]:
    """The run's final state, as a library caller gets it from ``ainvoke``."""
    final: dict[str, Any] = await build_orchestrator().ainvoke(
        {"plan": plan, "workspace": str(workspace)}
    )
    return final


async def test_undo_restores_a_gitignored_file_git_cannot_restore(make_repo: MakeRepo) -> None:
    repo = make_repo({".gitignore": ".env\n", "app.py": "X = 1\n"})
    (repo / ".env").write_bytes(b"TOKEN=mine\r\n# kept by hand\n")
    before = snapshot(repo)
    plan = {
        "goal": "new settings",
        "steps": [
            write_file("env", ".env", "TOKEN=new\n"),
            {
                "id": "app",
                "skill": "edit_block",
                "args": {"path": "app.py", "search": "X = 1", "replace": "X = 2"},
            },
        ],
    }
    final = await run(plan, repo)
    assert final["report"]["status"] == "completed", final["report"]
    assert (repo / ".env").read_text() == "TOKEN=new\n"
    # The pre-images live in .phasegraph/ and git ignores them: nothing new to commit.
    assert git(repo, "status", "--porcelain") == " M app.py\n"
    assert any((repo / ".phasegraph" / "undo").rglob("*"))

    done = await undo_run(final)

    assert snapshot(repo) == before
    assert sorted(done.restored) == [".env", "app.py"]
    assert git(repo, "status", "--porcelain") == ""


async def test_undo_works_in_a_workspace_that_is_not_a_git_repository(tmp_path: Path) -> None:
    work = tmp_path / "plain"
    (work / "empty-before").mkdir(parents=True)
    (work / "notes.txt").write_bytes(b"line one\r\nline two\r\n")
    (work / "keep.txt").write_text("untouched\n")
    before = snapshot(work)
    plan = {
        "goal": "rewrite the notes",
        "steps": [
            write_file("notes", "notes.txt", "rewritten\n"),
            write_file("deep", "new/deeper/file.txt", "created\n"),
            write_file("beside", "empty-before/inside.txt", "created too\n"),
        ],
    }
    final = await run(plan, work)
    assert final["report"]["status"] == "completed", final["report"]
    assert final["head"] is None

    done = await undo_run(final)

    assert snapshot(work) == before
    assert sorted(done.removed) == ["empty-before/inside.txt", "new/deeper/file.txt"]
    assert not (work / "new").exists()  # the folders the run made went with the file
    assert (work / "empty-before").is_dir()  # the folder that was there stays


async def test_a_file_over_the_pre_image_cap_is_refused_before_any_write(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(undo, "MAX_PREIMAGE_FILE", 1000)
    repo = make_repo({"small.txt": "s\n", "big.txt": "b" * 2000 + "\n"})
    before = snapshot(repo)
    plan = {
        "goal": "too big to keep",
        "steps": [write_file("small", "small.txt", "S\n"), write_file("big", "big.txt", "B\n")],
    }
    final = await run(plan, repo)
    report = final["report"]
    assert report["status"] == "stopped"
    assert "big.txt" in report["error"] and "undo" in report["error"]
    assert "split" in report["error"] or "outside phasegraph" in report["error"]
    assert snapshot(repo) == before  # not even the small file's write ran


async def test_a_run_over_the_pre_image_budget_is_refused_before_any_write(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(undo, "MAX_PREIMAGES_PER_RUN", 3000)
    repo = make_repo({f"f{i}.txt": "x" * 1000 + "\n" for i in range(4)})
    before = snapshot(repo)
    plan = {"goal": "four", "steps": [write_file(f"w{i}", f"f{i}.txt", "y\n") for i in range(4)]}
    report = (await run(plan, repo))["report"]
    assert report["status"] == "stopped"
    assert "3000" in report["error"] or "per run" in report["error"]
    assert snapshot(repo) == before
