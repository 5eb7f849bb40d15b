"""``phasegraph resume``, ``history`` and ``undo``: when things go wrong."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from typing_extensions import TypedDict

from phasegraph.cli.approval import events_and_approval
from phasegraph.cli.common import EXIT_OK, Env
from phasegraph.cli.interrupt import RunWatch, run_until_signal
from phasegraph.cli.llm_options import add_llm_arguments, model_from_args
from phasegraph.cli.output import print_line
from phasegraph.cli.run_cmd import (
    add_approve_argument,
    add_fetch_arguments,
    add_output_arguments,
    check_report_path,
    finish,
    options_from,
)
from phasegraph.cli.session import existing_database, existing_workspace, persisted_graph
from phasegraph.graph.durable.lock import workspace_lock
from phasegraph.graph.model.report import Report
from phasegraph.skills.core.errors import PreflightError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


def _common(
    parser: argparse.ArgumentParser, what: str = "the run's thread id (printed when it started)"
) -> None:
    parser.add_argument("thread", help=what)
    parser.add_argument(
        "--workspace", "-w", type=Path, default=Path(), help="the run's workspace (default: .)"
    )
    parser.add_argument("--db", help="checkpoint database, if the run used --db")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resume = sub.add_parser("resume", help="continue a stopped, paused or killed run")
    _common(resume)
    add_output_arguments(resume)
    add_fetch_arguments(resume)
    # A run resumes with the graph it started with: the same model and approval settings.
    add_approve_argument(resume)
    add_llm_arguments(resume, request=False)
    resume.set_defaults(handler=resume_command)
    history = sub.add_parser("history", help="list a run's checkpoints, newest first")
    _common(history)
    history.add_argument(
        "--json",
        action="store_true",
        help="print the checkpoints as one JSON array (step, checkpoint, saved_at, next, todo)",
    )
    history.set_defaults(handler=history_command)
    undo = sub.add_parser("undo", help="restore the files a run wrote and revert its commit")
    _common(undo, what="the run's thread id, or its run id (the report's run_id)")
    undo.add_argument("--force", action="store_true", help="undo even files changed since")
    undo.set_defaults(handler=undo_command)


def _config(thread: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread}}


def _unknown(args: argparse.Namespace, db: str | None, workspace: Path) -> PreflightError:
    where = db if db is not None else f"{workspace} (it holds no phasegraph runs)"
    return PreflightError(
        f"no run with thread {args.thread} in {where}; check the thread id and "
        "--workspace/--db (`phasegraph runs -w DIR` lists a workspace's runs)"
    )


def _unknown_run(args: argparse.Namespace, db: str | None, workspace: Path) -> PreflightError:
    database = f"the run database {db}" if db is not None else "a run database (it has none)"
    return PreflightError(
        f"no run {args.thread} in {workspace}: neither a thread in {database} nor a run id or "
        "thread in its run records (.phasegraph/runs); check the id (the report's run_id or "
        "thread) and --workspace/--db (`phasegraph runs -w DIR` lists a workspace's runs)"
    )


def _stored_workspace(values: dict[str, Any], fallback: Path) -> Path:
    """The workspace the run itself worked on (what to lock), not merely where ``-w`` points."""
    stored = values.get("workspace")
    target = Path(stored) if isinstance(stored, str) and stored else fallback
    if not target.is_dir():
        raise PreflightError(
            f"the run's workspace {target} is not a directory any more; restore it (or its "
            "checkout) at that path first"
        )
    return target


def _workspace_and_db(args: argparse.Namespace) -> tuple[Path, str]:
    """The command's workspace and the database its runs are in, or the error naming both."""
    workspace = existing_workspace(args.workspace)
    db = existing_database(args.db, workspace)
    if db is None:
        raise _unknown(args, db, workspace)
    return workspace, db


def resume_command(args: argparse.Namespace, env: Env) -> int:
    check_report_path(args.report)
    workspace, db = _workspace_and_db(args)
    model = model_from_args(args)
    watch = RunWatch(args.thread, workspace, args.db)

    async def go() -> Report:
        from phasegraph.graph.run import resume_run  # LangGraph: only when running

        async with persisted_graph(env, db, model=model, approve=args.approve) as graph:
            values: dict[str, Any] = dict((await graph.aget_state(_config(args.thread))).values)
            if not values:
                raise _unknown(args, db, workspace)
            target = _stored_workspace(values, workspace)
            if args.db is not None:  # the database does not say where: the run's own folder
                watch.workspace = target
            with workspace_lock(target, args.thread):
                # Read again under the lock: another resume may have finished it meanwhile.
                snapshot = await graph.aget_state(_config(args.thread))
                values = dict(snapshot.values)
                if not snapshot.next and "report" in values:
                    # It had already finished: show its report again.
                    return Report.model_validate({**values["report"], "thread": args.thread})
                watch.started = True
                with events_and_approval(env, args.json, args.approve) as (
                    on_event,
                    on_interrupt,
                ):
                    return await resume_run(
                        graph,
                        args.thread,
                        options=options_from(args, bool(values.get("strict"))),
                        on_event=watch.watching(on_event),
                        on_interrupt=on_interrupt,
                    )

    report = run_until_signal(go(), watch, env.err)
    return finish(env, report, args, resume=watch.resume_command(), undo=watch.undo_command())


class CheckpointRow(TypedDict):
    """One checkpoint of a run, as ``phasegraph history --json`` prints it."""

    step: int | None
    """LangGraph's step number of the checkpoint (-1: the input)."""
    checkpoint: str
    saved_at: str | None
    """When it was saved (ISO 8601, UTC)."""
    next: list[str]
    """The nodes the run would run next from here (empty: the run ended)."""
    todo: dict[str, int]
    """How many of the plan's steps were in each status (done, failed, pending...)."""


def history_command(args: argparse.Namespace, env: Env) -> int:
    workspace, db = _workspace_and_db(args)

    async def go() -> list[CheckpointRow]:
        rows: list[CheckpointRow] = []
        async with persisted_graph(env, db) as graph:
            async for snap in graph.aget_state_history(_config(args.thread)):
                counts = Counter(r["status"] for r in snap.values.get("steps", {}).values())
                step = snap.metadata.get("step") if snap.metadata else None
                rows.append(
                    CheckpointRow(
                        step=step if isinstance(step, int) else None,
                        checkpoint=str(snap.config["configurable"].get("checkpoint_id", "")),
                        saved_at=snap.created_at,
                        next=list(snap.next),
                        todo=dict(sorted(counts.items())),
                    )
                )
        if not rows:
            raise _unknown(args, db, workspace)
        return rows

    rows = asyncio.run(go())
    if args.json:
        print_line(json.dumps(rows))
        return EXIT_OK
    table = Table("step", "checkpoint", "saved at", "next", "todo")
    for row in rows:
        table.add_row(
            "" if row["step"] is None else str(row["step"]),
            row["checkpoint"],
            _when(row["saved_at"]),
            ", ".join(row["next"]) or "(end)",
            ", ".join(f"{n} {s}" for s, n in row["todo"].items()),
        )
    env.out.print(table)
    return EXIT_OK


def undo_command(args: argparse.Namespace, env: Env) -> int:
    """Undo a run: a thread of the run database as before, else a run id (or thread) the
    workspace's run records name (the library's and the tool's runs, with no database)."""
    workspace = existing_workspace(args.workspace)
    db = existing_database(args.db, workspace)

    async def go() -> str:
        # git and httpx: only when undoing
        from phasegraph.graph.durable.run_index import find_run
        from phasegraph.graph.durable.undo import undo_by_run_id, undo_run

        values: dict[str, Any] = {}
        if db is not None:
            async with persisted_graph(env, db) as graph:
                values = dict((await graph.aget_state(_config(args.thread))).values)
        if values:
            with workspace_lock(_stored_workspace(values, workspace), f"undo {args.thread}"):
                done = await undo_run(values, force=args.force)
        elif await asyncio.to_thread(find_run, workspace, args.thread) is not None:
            done = await undo_by_run_id(workspace, args.thread, force=args.force)
        else:
            raise _unknown_run(args, db, workspace)
        if done.nothing_to_undo:
            reverted = f" (its revert is commit {done.commit})" if done.commit else ""
            return (
                "nothing to undo: the workspace already holds what it held before the run"
                f"{reverted}"
            )
        revert = ""
        if done.commit:
            revert = (
                f"the revert was already committed as {done.commit}"
                if done.commit_found
                else f"committed the revert as {done.commit}"
            )
        parts = [
            "finished an interrupted undo" if done.resumed else "",
            f"restored {', '.join(done.restored)}" if done.restored else "",
            f"removed {', '.join(done.removed)}" if done.removed else "",
            revert,
        ]
        return "[green]undone[/]: " + escape("; ".join(p for p in parts if p))

    env.out.print(asyncio.run(go()))
    return EXIT_OK


def _when(created_at: str | None) -> str:
    if not created_at:
        return ""
    return datetime.datetime.fromisoformat(created_at).strftime("%Y-%m-%d %H:%M:%S")
