"""``phasegraph run`` and ``phasegraph demo``: run a plan with live progress and a report."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


from phasegraph.cli.approval import events_and_approval
from phasegraph.cli.common import EXIT_BAD_INPUT, EXIT_OK, EXIT_STOPPED, Env
from phasegraph.cli.llm_options import add_llm_arguments, model_from_args
from phasegraph.cli.session import database, persisted_graph
from phasegraph.cli.show import print_report
from phasegraph.graph.context import RunOptions
from phasegraph.graph.events import RunStarted
from phasegraph.graph.lock import workspace_lock
from phasegraph.graph.plan import Plan, check_plan, load_plan
from phasegraph.graph.preflight import preflight
from phasegraph.graph.report import Report
from phasegraph.recipes import expand_recipe
from phasegraph.skills.errors import PreflightError


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="let fetch_url reach this host even if it resolves to a private or local address",
    )


def options_from(args: argparse.Namespace, strict: bool) -> RunOptions:
    python: Path | None = getattr(args, "python", None)
    return RunOptions(
        strict=strict,
        allow_hosts=tuple(args.allow_host),
        python=str(python.expanduser().absolute()) if python is not None else None,
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", type=Path, help="write the JSON report to this file")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON event per line instead of a table"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a plan (YAML or JSON), or a --request, on a workspace")
    run.add_argument("plan", type=Path, nargs="?", help="plan file (or give --request)")
    run.add_argument("--workspace", "-w", type=Path, required=True, help="repository to work on")
    run.add_argument("--thread", help="thread id for the run's checkpoints (default: new)")
    run.add_argument("--strict", action="store_true", help="any verify failure blocks the commit")
    run.add_argument(
        "--python",
        type=Path,
        metavar="PATH",
        help="the project's Python interpreter (or virtualenv folder) the checks run with "
        "(default: the workspace's .venv/venv, an active virtualenv in it, a uv or poetry "
        "environment, else phasegraph's own)",
    )
    run.add_argument(
        "--db",
        help="checkpoint database: a SQLite path or postgresql:// URL "
        "(default: .phasegraph/state.sqlite in the workspace)",
    )
    add_output_arguments(run)
    add_fetch_arguments(run)
    add_llm_arguments(run)
    run.set_defaults(handler=run_command)
    demo = sub.add_parser("demo", help="run the full five phases on a bundled sample repo")
    demo.add_argument("--dir", type=Path, help="where to put the sample repo (default: a temp dir)")
    add_output_arguments(demo)
    demo.set_defaults(
        handler=demo_command,
        db=None,
        thread=None,
        strict=False,
        request=None,
        approve=False,
        allow_host=[],
        python=None,
    )


def run_command(args: argparse.Namespace, env: Env) -> int:
    if (args.plan is None) == (args.request is None):
        env.err.print('[bold red]error:[/] give a plan file or --request "..." (not both)')
        return EXIT_BAD_INPUT
    plan = load_plan(args.plan) if args.plan is not None else None
    return execute(env, plan, args.workspace, args)


def demo_command(args: argparse.Namespace, env: Env) -> int:
    from phasegraph.demo import DEMO_PLAN, prepare_sample_repo

    where: Path | None = args.dir
    root = where or Path(tempfile.mkdtemp(prefix="phasegraph-demo-"))
    repo = prepare_sample_repo(root / "inventory" if where is None else root)
    if not args.json:
        env.out.print(f"[bold]phasegraph demo[/]: sample repo at {repo}")
        env.out.print(f"goal: {DEMO_PLAN['goal']}\n")
    return execute(env, Plan.model_validate(DEMO_PLAN), repo, args)


def execute(env: Env, plan: Plan | None, workspace: Path, args: argparse.Namespace) -> int:
    """Validate and preflight (exit 2 on bad input, nothing touched), then run durably.

    Checkpoints go to the run database with durability "sync", so a killed run
    can be resumed with ``phasegraph resume THREAD``.
    """
    model = model_from_args(args)
    options = options_from(args, args.strict)
    if plan is not None:
        expanded = expand_recipe(plan)
        found = preflight(expanded, env.registry, workspace, python=options.python)
        check_plan(expanded, env.registry, workspace=found.workspace)
    else:  # the model plans once the run has started; the workspace is checked now
        found = preflight(Plan(goal=args.request), env.registry, workspace, python=options.python)
    thread: str = args.thread or uuid.uuid4().hex[:12]
    if args.json:
        started = RunStarted(
            event="run",
            thread=thread,
            workspace=str(found.workspace),
            python=found.python.python,
            source=found.python.source,
        )
        print(json.dumps(started), flush=True)
    else:
        env.out.print(
            f"thread [bold]{thread}[/] (if it is interrupted: "
            f"phasegraph resume {thread} -w {found.workspace})"
        )
        env.out.print(f"checks run with {found.python.describe()}", highlight=False)
    db = database(args.db, found.workspace)

    async def go() -> Report:
        from phasegraph.graph.run import run_plan, run_request  # LangGraph: only when running

        async with persisted_graph(env, db, model=model, approve=args.approve) as graph:
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            if (await graph.aget_state(config)).values:
                raise PreflightError(
                    f"thread {thread} already holds a run; resume it with `phasegraph resume "
                    f"{thread}` or start a new run without --thread"
                )
            with events_and_approval(env, args.json, args.approve) as (on_event, on_interrupt):
                if plan is None:
                    return await run_request(
                        graph,
                        args.request,
                        found.workspace,
                        options=options,
                        thread_id=thread,
                        on_event=on_event,
                        on_interrupt=on_interrupt,
                    )
                return await run_plan(
                    graph,
                    plan,
                    found.workspace,
                    options=options,
                    thread_id=thread,
                    on_event=on_event,
                    on_interrupt=on_interrupt,
                )

    with workspace_lock(found.workspace, thread):
        report = asyncio.run(go())
    return finish(env, report, args)


def finish(env: Env, report: Report, args: argparse.Namespace) -> int:
    """Show the report (a table, or a final JSON line), write ``--report``, give the exit code."""
    if args.json:
        print(json.dumps({"event": "report", **report.model_dump(mode="json")}), flush=True)
    else:
        print_report(env.out, report)
    if args.report is not None:
        args.report.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    return exit_code(report)


def exit_code(report: Report) -> int:
    if report.status == "completed":
        return EXIT_OK
    return EXIT_BAD_INPUT if report.failure_kind in ("input", "preflight") else EXIT_STOPPED
