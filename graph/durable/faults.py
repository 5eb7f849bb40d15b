"""A run a fault of its machine stopped (a full disk, a database gone away), reported from
what its stream showed and the disk holds, never read back from the database: the step it
stopped at, the files that had landed and how to undo them (:func:`fault_report`). The run's
checkpoints up to there stay, so it resumes once the fault is put right.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegraph.graph.durable.undo import Preimages
from phasegraph.graph.model.report import Report, build_report, to_dict
from phasegraph.graph.model.run_store import file_hash
from phasegraph.graph.model.state import Failure, StepRecord
from phasegraph.skills.guards.workspace import resolve_in_workspace

#: The ``failure_kind`` of a run stopped by a fault of the machine it runs on, not of a step:
#: the disk filled up, the database went away. The run resumes once that is put right.
FAULT = "fault"


@dataclass
class Seen:
    """What a run's stream has shown so far: enough to report it when the machine stops it,
    the database perhaps gone. ``values``: the graph's last state (for a resume, the stored
    one until the stream shows more); ``rows``: every todo row since, as the step events
    (the writer subgraph's too) showed it; ``last``: the step of the last event;
    ``cursor``: the writer subgraph's, the index of the write it is at."""

    values: dict[str, Any]
    rows: dict[str, StepRecord] = field(default_factory=dict)
    last: str | None = None
    cursor: int | None = None

    def event(self, chunk: dict[str, Any]) -> None:
        if chunk.get("event") != "step" or not isinstance(chunk.get("id"), str):
            return
        row: dict[str, Any] = {key: chunk.get(key) for key in StepRecord.__annotations__}
        self.rows[chunk["id"]] = row  # type: ignore[assignment]
        self.last = chunk["id"]

    def inner(self, namespace: tuple[str, ...], chunk: dict[str, Any]) -> None:
        """A subgraph's state: the writer's cursor."""
        if namespace[-1].split(":")[0] == "writer" and isinstance(chunk.get("cursor"), int):
            self.cursor = chunk["cursor"]

    def step(self) -> str | None:
        """The step the run was at: one running (the last started), else the write the
        writer was about to begin (its pre-image, its journal), else the last one seen."""
        rows = {**self.values.get("steps", {}), **self.rows}
        running = [key for key, row in self.rows.items() if row["status"] == "running"]
        if running:
            return running[-1]
        plan = self.values.get("plan")
        steps = plan.get("steps") if isinstance(plan, dict) else None
        if self.cursor is not None and isinstance(steps, list):
            writes = [
                str(s["id"])
                for s in steps
                if isinstance(s, dict) and rows.get(s.get("id"), {}).get("phase") == "write"
            ]
            at = writes[self.cursor] if self.cursor < len(writes) else None
            if at is not None and rows[at]["status"] == "pending":
                return at
        return self.last


def fault_of(exc: BaseException) -> tuple[str, str] | None:
    """What failed and what puts it right, when ``exc`` is a fault of the machine the run
    stands on (a full disk, an operating system error, a database that cannot be written or
    reached); ``None`` for anything else (a bug, a timeout), which is raised as it is."""
    for found in _causes(exc):
        if isinstance(found, OSError) and not isinstance(found, TimeoutError):
            detail = found.strerror or str(found)
            if found.errno in (errno.ENOSPC, errno.EDQUOT):
                return f"the disk is full ({detail})", "free some disk space"
            where = f": {found.filename}" if found.filename else ""
            return (
                f"the operating system refused ({type(found).__name__}: {detail}{where})",
                "put it right",
            )
        if isinstance(found, sqlite3.Error):
            if getattr(found, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                return f"the run's database is full ({found})", "free some disk space"
            return f"the run's database failed ({found})", "put it right"
        if _database_error(found):
            text = str(found).strip().splitlines()
            detail = text[0] if text else type(found).__name__
            return (
                f"the run's database cannot be reached ({detail})",
                "bring the database back",
            )
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, the exceptions of a group, and what each was raised ``from``, in that order
    (not what was being handled when it was raised: a bug in an ``except`` stays a bug)."""
    out: list[BaseException] = []
    todo = [exc]
    while todo and len(out) < 50:
        found = todo.pop(0)
        if found in out:
            continue
        out.append(found)
        if isinstance(found, BaseExceptionGroup):
            todo += list(found.exceptions)
        if found.__cause__ is not None:
            todo.append(found.__cause__)
    return out


def _database_error(exc: BaseException) -> bool:
    """A PostgreSQL connection lost or refused (psycopg is imported only with ``--db``)."""
    if type(exc).__module__.split(".")[0] not in ("psycopg", "psycopg_pool"):
        return False
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"OperationalError", "InterfaceError", "PoolTimeout"})


def fault_report(
    seen: Seen, thread: str, cause: str, remedy: str, *, durable: bool = True
) -> Report:
    """The stopped report of a run a fault stopped, from what its stream showed and the disk
    holds (the database may be gone): the step it stopped at, the files that had landed
    and how to undo them; ``durable``: the run has checkpoints to resume from.
    Blocking (files): a worker thread."""
    values = seen.values
    step = seen.step()
    written, created = landed_files(values)
    then = (
        f"the run keeps its checkpoints up to there: {remedy}, then resume it"
        if durable
        else f"{remedy}, then run the plan again (this run had no checkpointer to resume from)"
    )
    failure = Failure(
        step=step,
        kind="skill",  # the report says FAULT: the state's kinds are those of a run's steps
        error=f"{cause}; {then}",
    )
    state = {
        **values,
        "steps": {**values.get("steps", {}), **seen.rows},
        "failure": failure,
        "written": written,
        "created": created,
    }
    report = build_report(state, "stopped").model_copy(update={"failure_kind": FAULT})  # type: ignore[arg-type]
    return Report.model_validate({**to_dict(report), "thread": thread})


def landed_files(values: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The files a run had written, and those of them it created: those its state names,
    and those that differ from the pre-image the writer kept before its first write of
    them (a write in progress shows in no state, and the database may be gone)."""
    written = list(values.get("written", []))
    created = list(values.get("created", []))
    where, run_id = values.get("workspace"), values.get("run_id")
    if not where or not run_id:
        return written, created
    workspace = Path(str(where))
    with contextlib.suppress(OSError, ValueError):
        for rel, before in Preimages(workspace, str(run_id)).index()["files"].items():
            with contextlib.suppress(Exception):  # a path gone strange: not the run's write
                if rel in written or file_hash(resolve_in_workspace(workspace, rel)) == before:
                    continue
                written.append(rel)
                if before is None:
                    created.append(rel)
    return written, created
