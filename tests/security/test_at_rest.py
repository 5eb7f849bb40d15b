"""Secrets at rest: the workspace's ``.phasegraph/`` holds a run's reads verbatim (a ``.env``
included) in its database and the pre-images of the files it overwrote, so everything in it is
owner-only: folders 0700, files 0600, the SQLite database and its -wal/-shm files included.
Checked after a real CLI run (and while it runs), and after a library run with a checkpointer,
under the everyday umask 022, in which the same files used to be 0644."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.repos import require_program

from phasegraph import build_orchestrator, run_plan
from phasegraph.graph.durable.persistence import default_db, open_persistence

MakeRepo = Callable[[dict[str, str]], Path]
SECRET = "TOKEN=sk-not-for-anyone-else-0123456789"
PLAN: dict[str, Any] = {
    "goal": "rotate the token",
    "steps": [
        {"id": "env", "skill": "read_file", "args": {"path": ".env"}},
        {"id": "rotate", "skill": "write_file", "args": {"path": ".env", "content": "TOKEN=\n"}},
        {
            "id": "app",
            "skill": "edit_block",
            "args": {"path": "app.py", "search": "X = 1", "replace": "X = 2"},
        },
        {"id": "lint", "skill": "run_ruff"},  # ruff's cache goes to .phasegraph/cache/
    ],
}


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "ruff"):
        require_program(name)


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    found = make_repo({".gitignore": ".env\n", "app.py": "X = 1\n"})
    (found / ".env").write_text(SECRET + "\n")
    return found


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def not_owner_only(root: Path, skip: Callable[[Path], bool] = lambda rel: False) -> list[str]:
    """Every folder under ``root`` (itself included) not 0700 and file not 0600, but those
    whose path relative to ``root`` ``skip`` says to leave out."""
    bad = []
    for path in [root, *sorted(root.rglob("*"))]:
        rel = path.relative_to(root)
        if skip(rel):
            continue
        mode = path.lstat().st_mode
        wanted = 0o700 if stat.S_ISDIR(mode) else 0o600
        if stat.S_IMODE(mode) != wanted:
            bad.append(f"{stat.S_IMODE(mode):o} {rel}")
    return bad


def in_a_tool_cache_or_the_lock(rel: Path) -> bool:
    """What a tool writes in its cache folder (``cache/<tool>/...``), and the lock file."""
    return (rel.parts[:1] == ("cache",) and len(rel.parts) > 2) or rel.parts == ("lock",)


def holds_the_secret(folder: Path) -> bool:
    return any(SECRET.encode() in p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_everything_a_cli_run_keeps_is_owner_only(repo: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    marker = tmp_path / "paused"
    env = {
        **os.environ,
        "PHASEGRAPH_FAILPOINT": "pause@verify:lint",
        "PHASEGRAPH_FAILPOINT_PAUSE": str(marker),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "phasegraph.cli.main", "run", str(plan), "-w", str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        umask=0o022,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never reached its check"
            time.sleep(0.05)
        state = repo / ".phasegraph"
        # Mid-run, the database is open: its -wal and -shm files are there, owner-only too.
        assert {p.name for p in state.glob("state.sqlite*")} >= {
            "state.sqlite",
            "state.sqlite-wal",
            "state.sqlite-shm",
        }
        # The tools' caches are made owner-only when the run ends (inside a folder that is
        # from the start); the lock file exists only while a run holds it (graph/durable/lock.py).
        assert not_owner_only(state, in_a_tool_cache_or_the_lock) == []
    finally:
        marker.unlink(missing_ok=True)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err

    state = repo / ".phasegraph"
    assert (state / "state.sqlite").is_file() and any((state / "undo").iterdir())
    assert any((state / "cache").iterdir())
    assert holds_the_secret(state)  # the read of .env and its pre-image: why this matters
    assert not_owner_only(state) == []


async def test_everything_a_library_run_with_a_checkpointer_keeps_is_owner_only(
    repo: Path,
) -> None:
    state = repo / ".phasegraph"
    # What an earlier version left readable is made owner-only too.
    state.mkdir(mode=0o755)
    (state / "notes").write_text("left by an earlier version\n")
    (state / "notes").chmod(0o644)
    with umask(0o022):
        async with open_persistence(default_db(repo)) as (saver, store):
            graph = build_orchestrator(checkpointer=saver, store=store)
            report = await run_plan(graph, PLAN, repo, thread_id="lib")
            assert not_owner_only(state) == []  # the database still open: -wal, -shm
    assert report.status == "completed", report
    assert holds_the_secret(state)
    assert not_owner_only(state) == []
