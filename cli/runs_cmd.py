"""``phasegraph runs``: the runs a workspace's checkpoint database holds, newest first."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from typing_extensions import TypedDict

from phasegraph.cli.common import EXIT_OK, Env
from phasegraph.cli.output import print_line
from phasegraph.cli.session import existing_database, existing_workspace, persisted_graph

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.types import StateSnapshot


class RunRow(TypedDict):
    """One run, as ``phasegraph runs --json`` prints it."""

    thread: str
    started: str
    """When its first checkpoint was saved (ISO 8601, UTC)."""
    status: str
    """``completed`` or ``stopped`` (it has a report), ``paused`` (waits for approval),
    ``interrupted`` (killed or stopped mid-way: ``phasegraph resume`` continues it)."""
    last_step: str | None
    """The failed step, else the step that moved last."""
    commit: str | None
    workspace: str | None
    run_id: str | None
    """The run's id (``phasegraph undo RUN_ID``), where its state or record names it."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = sub.add_parser("runs", help="list a workspace's runs, newest first")
    runs.add_argument(
        "--workspace", "-w", type=Path, default=Path(), help="the workspace (default: .)"
    )
    runs.add_argument("--db", help="checkpoint database, if the runs used --db")
    runs.add_argument(
        "--all", action="store_true", help="every run in the database, whatever its workspace"
    )
    runs.add_argument("--json", action="store_true", help="print the list as one JSON array")
    runs.set_defaults(handler=runs_command)


def runs_command(args: argparse.Namespace, env: Env) -> int:
    workspace = existing_workspace(args.workspace)
    db = existing_database(args.db, workspace)
    rows = asyncio.run(list_runs(env, db)) if db is not None else []
    rows = _with_recorded(rows, workspace)
    if not args.all:
        rows = [r for r in rows if r["workspace"] is None or _same(r["workspace"], workspace)]
    if args.json:
        print_line(json.dumps(rows))
        return EXIT_OK
    if not rows:
        env.out.print(f"no runs recorded for {workspace}", highlight=False)
        return EXIT_OK
    table = Table("thread", "started", "status", "last step", "commit")
    for row in rows:
        table.add_row(
            row["thread"],
            _local(row["started"]),
            row["status"],
            row["last_step"] or "",
            (row["commit"] or "")[:12],
        )
    env.out.print(table)
    return EXIT_OK


async def list_runs(env: Env, db: str) -> list[RunRow]:
    """Every thread in ``db`` (its top-level checkpoints), with its latest state."""
    first_saved: dict[str, str] = {}
    rows: list[RunRow] = []
    async with persisted_graph(env, db) as graph:
        assert graph.checkpointer is not None and not isinstance(graph.checkpointer, bool)
        async for saved in graph.checkpointer.alist(None):
            configurable = saved.config["configurable"]
            if configurable.get("checkpoint_ns"):
                continue  # the writer subgraph's own checkpoints
            thread, ts = str(configurable["thread_id"]), str(saved.checkpoint["ts"])
            first_saved[thread] = min(ts, first_saved.get(thread, ts))
        for thread, started in first_saved.items():
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            rows.append(_row(thread, started, await graph.aget_state(config)))
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def _with_recorded(rows: list[RunRow], workspace: Path) -> list[RunRow]:
    """``rows`` and the runs the workspace's records name that the database does not (a
    library's or a tool's run, with no checkpointer), newest first."""
    from phasegraph.graph.durable.run_index import recorded_runs

    known = {r["thread"] for r in rows} | {r["run_id"] for r in rows}
    more = [
        RunRow(
            thread=rec["thread"] or rec["run_id"],
            started=rec["started"] or rec["time"],
            status=rec["status"],
            last_step=None,
            commit=rec["commit"],
            workspace=str(workspace),  # where it was found: the folder may have moved
            run_id=rec["run_id"],
        )
        for rec in recorded_runs(workspace)
        if rec["thread"] not in known and rec["run_id"] not in known
    ]
    return sorted([*rows, *more], key=lambda r: r["started"], reverse=True) if more else rows


def _row(thread: str, started: str, snapshot: StateSnapshot) -> RunRow:
    values: dict[str, Any] = dict(snapshot.values)
    report: dict[str, Any] = values.get("report") or {}
    if report and not snapshot.next:
        status = str(report.get("status", "stopped"))
    elif snapshot.interrupts or any(t.interrupts for t in snapshot.tasks):
        status = "paused"
    else:
        status = "interrupted"
    workspace = values.get("workspace")
    return RunRow(
        thread=thread,
        started=started,
        status=status,
        last_step=report.get("failed_step") or _last_moved(values.get("steps", {})),
        commit=report.get("commit"),
        workspace=str(workspace) if workspace else None,
        run_id=str(values["run_id"]) if values.get("run_id") else None,
    )


def _last_moved(rows: dict[str, dict[str, Any]]) -> str | None:
    moved = [r for r in rows.values() if r.get("started_at")]
    if not moved:
        return None
    last = max(moved, key=lambda r: (r.get("ended_at") or r["started_at"], r["started_at"]))
    return str(last["id"])


def _same(stored: str, workspace: Path) -> bool:
    try:
        return Path(stored).resolve() == workspace
    except OSError:
        return False


def _local(ts: str) -> str:
    try:
        when = datetime.datetime.fromisoformat(ts)
    except ValueError:
        return ts
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
