"""The runs a workspace has seen: one small record per run in ``.phasegraph/runs/``.

A run driven through the library or the tool has no checkpointer, so nothing else says
later which files it wrote; the report node leaves this record when the run ends, and undo
finds the run by its id (the report's ``run_id``) or its thread. Each record is one JSON
file, ``<run id>.json``, replaced atomically, owner-only, never committed (the state folder
ignores itself in git).
"""

from __future__ import annotations

import datetime
import json
import re
import time
from pathlib import Path
from typing import Any

from typing_extensions import TypedDict

from phasegraph.skills.guards.workspace import STATE_DIR, atomic_write, state_dir

#: The folder of the records, in the workspace's state folder.
RUNS = "runs"
#: A run id as the planner makes it (a uuid's hex) or a caller may give it: a file name.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
#: The most records read when looking a run up by its thread (the newest first).
MAX_SCANNED = 10_000


class RunRecord(TypedDict):
    """One run as its workspace remembers it: what undo needs, and what ``runs`` lists."""

    version: int
    run_id: str
    thread: str | None
    """The thread the run went on (``None``: invoked without one)."""
    workspace: str
    status: str
    """``completed`` or ``stopped``."""
    restored: bool
    """The run stopped and put the tree back as it was (``on_stop="restore"``)."""
    written: list[str]
    created: list[str]
    """Those of ``written`` that did not exist before the run."""
    written_sha: dict[str, str | None]
    """The sha256 each written file was left with (``None``: removed): undo tells by it
    whether a file changed since."""
    head: str | None
    """HEAD when the run started (``None`` outside git)."""
    commit: str | None
    """The run's commit, if it made one."""
    started: str
    """When its first step started (ISO 8601, UTC; its end when no step ran)."""
    time: str
    """When the run ended (ISO 8601, UTC)."""


def valid_run_id(run_id: str) -> bool:
    """Whether ``run_id`` can name a record (a file name: no path, no leading dot)."""
    return bool(_RUN_ID.fullmatch(run_id)) and ".." not in run_id


def record_of(
    state: dict[str, Any], *, thread: str | None, status: str, restored: bool
) -> RunRecord:
    """The record of the run whose final state is ``state``."""
    now = _iso(time.time())
    rows = state.get("steps", {}).values()
    began = [r["started_at"] for r in rows if isinstance(r.get("started_at"), int | float)]
    return RunRecord(
        version=1,
        run_id=str(state["run_id"]),
        thread=thread,
        workspace=str(Path(str(state["workspace"])).resolve()),
        status=status,
        restored=restored,
        written=list(state.get("written", [])),
        created=list(state.get("created", [])),
        written_sha=dict(state.get("written_sha", {})),
        head=state.get("head"),
        commit=state.get("commit_sha") or None,
        started=_iso(min(began)) if began else now,
        time=now,
    )


def _iso(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.UTC).isoformat(timespec="seconds")


def record_run(workspace: Path, record: RunRecord) -> None:
    """Keep ``record`` (replacing the run's earlier one). Blocking (files)."""
    if not valid_run_id(record["run_id"]):
        raise ValueError(f"run id {record['run_id']!r} cannot name a run record")
    folder = state_dir(workspace, RUNS)  # made with the .gitignore that hides it
    atomic_write(folder / f"{record['run_id']}.json", json.dumps(record).encode(), mode=0o600)


def undo_values(record: RunRecord, workspace: Path) -> dict[str, Any]:
    """What :func:`~phasegraph.graph.durable.undo.undo_run` takes, from ``record``, for the
    run in ``workspace`` (where the record was found: the folder may have moved since)."""
    return {
        "workspace": str(workspace),
        "run_id": record["run_id"],
        "head": record["head"],
        "written": record["written"],
        "created": record["created"],
        "written_sha": record["written_sha"],
        "commit_sha": record["commit"],
    }


def find_run(workspace: Path, key: str) -> RunRecord | None:
    """The run ``key`` names in ``workspace``: its run id, else its thread (the newest run
    on that thread); ``None`` when no record says so. Blocking (files)."""
    if valid_run_id(key):
        found = _read(workspace / STATE_DIR / RUNS / f"{key}.json")
        if found is not None:
            return found
    return next((r for r in recorded_runs(workspace) if r["thread"] == key), None)


def recorded_runs(workspace: Path) -> list[RunRecord]:
    """Every run recorded in ``workspace``, the newest first (unreadable records skipped).
    Blocking (files)."""
    folder = workspace / STATE_DIR / RUNS
    try:
        paths = sorted(folder.glob("*.json"), key=_mtime, reverse=True)[:MAX_SCANNED]
    except OSError:
        return []
    found = [r for r in (_read(p) for p in paths) if r is not None]
    return sorted(found, key=lambda r: r["time"], reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read(path: Path) -> RunRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        return None
    if not isinstance(data.get("written"), list) or not isinstance(data.get("time"), str):
        return None
    record: RunRecord = {**_EMPTY, **data}  # type: ignore[typeddict-item]
    return record


_EMPTY: dict[str, Any] = {
    "version": 1,
    "thread": None,
    "workspace": "",
    "status": "stopped",
    "restored": False,
    "created": [],
    "written_sha": {},
    "head": None,
    "commit": None,
    "started": "",
}
