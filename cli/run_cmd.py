"""``phasegraph run`` and ``phasegraph demo``: run a plan with live progress and a report."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


from phasegraph.cli.approval import events_and_approval
from phasegraph.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_STOPPED,
    Env,
    attempts_arg,
    seconds_arg,
)
from phasegraph.cli.interrupt import RunWatch, run_until_signal
from phasegraph.cli.llm_options import add_llm_arguments, model_from_args
from phasegraph.cli.output import print_line
from phasegraph.cli.project_defaults import KEYS
from phasegraph.cli.session import database, persisted_graph
from phasegraph.cli.show import print_report
from phasegraph.graph.durable.lock import workspace_lock
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.events import RunStarted
from phasegraph.graph.model.plan import Plan, load_plan
from phasegraph.graph.model.report import Report
from phasegraph.graph.preflight.acceptance import accept_given_plan
from phasegraph.graph.preflight.checks import preflight
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.guards.workspace import atomic_write


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        help="let fetch_url reach this host even if it resolves to a private or local address",
    )


def add_step_arguments(parser: argparse.ArgumentParser, *, on_stop: bool = True) -> None:
    """--step-timeout, --retries, --baseline and (``on_stop``) --on-stop."""
    parser.add_argument(
        "--step-timeout",
        type=seconds_arg,
        metavar="SECONDS",
        help=f"seconds a single step may take (default: {RunOptions.step_timeout:g})",
    )
    parser.add_argument(
        "--retries",
        type=attempts_arg,
        metavar="N",
        help="attempts for a step, or a model call, that fails with a transient fault "
        f"(default: {RunOptions.retries})",
    )
    if on_stop:
        parser.add_argument(
            "--on-stop",
            choices=("keep", "restore"),
            help="what a run that stops does with the writes that landed: 'keep' (default) leaves "
            "them for you to inspect (phasegraph undo puts them back); 'restore' puts the tree "
            "back exactly as it was",
        )
    parser.add_argument(
        "--baseline",
        choices=("auto", "before"),
        help="when the checks' baselines run: 'before' every check on the untouched tree "
        "before the first write; 'auto' (default) pytest lists its tests before the writes, "
        "runs once after them, and runs again on the earlier tree only what did not pass",
    )


def options_from(args: argparse.Namespace, strict: bool) -> RunOptions:
    """The run's options: what the command line (and ``[tool.phasegraph]``) gave, else the
    built-in defaults."""
    python: Path | None = getattr(args, "python", None)
    timeout: float | None = getattr(args, "step_timeout", None)
    retries: int | None = getattr(args, "retries", None)
    return RunOptions(
        strict=strict,
        allow_hosts=tuple(getattr(args, "allow_host", None) or ()),
        python=str(python.expanduser().absolute()) if python is not None else None,
        step_timeout=timeout if timeout is not None else RunOptions.step_timeout,
        retries=retries if retries is not None else RunOptions.retries,
        baseline=getattr(args, "baseline", None) or RunOptions.baseline,
        on_stop=getattr(args, "on_stop", None) or RunOptions.on_stop,
    )


def add_approve_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--approve",
        action="store_true",
        help="once the plan is final, show every write (one unified diff per file) and ask "
        "before the first one; for a plan file, a recipe or a --request alike",
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", type=Path, help="write the JSON report to this file")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON event per line instead of a table"
    )
    add_step_arguments(parser)


def check_report_path(report: Path | None) -> None:
    """Refuse a ``--report`` that cannot be written, before anything runs."""
    if report is None:
        return
    folder = report.parent
    if report.is_dir():
        problem = "is a directory"
    elif not folder.is_dir():
        problem = f"is in {folder}, which is not an existing directory"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"is in {folder}, which you may not write to"
    else:
        return
    raise PreflightError(
        f"--report {report} {problem}; give it a file path in a folder that exists "
        "(nothing was run)"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="run a plan (YAML or JSON), or a --request, on a workspace",
        epilog="The workspace's pyproject.toml may set these options' defaults in a "
        f"[tool.phasegraph] table ({', '.join(KEYS)}); a flag given here wins.",
    )
    run.add_argument("plan", type=Path, nargs="?", help="plan file (or give --request)")
    run.add_argument(
        "--workspace", "-w", type=Path, default=Path(), help="repository to work on (default: .)"
    )
    run.add_argument("--thread", help="thread id for the run's checkpoints (default: new)")
    run.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        help="any verify failure blocks the commit, even one that was there before the run "
        "(default: off)",
    )
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
    add_approve_argument(run)
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
    check_report_path(args.report)
    plan = load_plan(args.plan) if args.plan is not None else None
    return execute(env, plan, args.workspace, args)


def _demo_folder(where: Path) -> None:
    """``demo --dir``: a new or empty folder; the sample repo is never copied over files."""
    if not where.exists():
        return
    if not where.is_dir():
        raise PreflightError(f"demo --dir {where} is not a folder; give a new or empty folder")
    if any(where.iterdir()):
        raise PreflightError(
            f"demo --dir {where} is not empty; give a new or empty folder for the sample repo"
        )
    where.rmdir()  # the copy makes it again


def demo_command(args: argparse.Namespace, env: Env) -> int:
    from phasegraph.demo import DEMO_PLAN, prepare_sample_repo

    where: Path | None = args.dir
    check_report_path(args.report)
    if where is not None:
        _demo_folder(where)
    root = where or Path(tempfile.mkdtemp(prefix="phasegraph-demo-"))
    repo = prepare_sample_repo(root / "inventory" if where is None else root)
    if not args.json:
        env.out.print(f"[bold]phasegraph demo[/]: sample repo at {repo}", highlight=False)
        env.out.print(f"goal: {DEMO_PLAN['goal']}\n")
    return execute(env, Plan.model_validate(DEMO_PLAN), repo, args)


def execute(env: Env, plan: Plan | None, workspace: Path, args: argparse.Namespace) -> int:
    """Validate and preflight (exit 2 on bad input, nothing touched), then run durably.

    Checkpoints go to the run database with durability "sync", so a killed run
    can be resumed with ``phasegraph resume THREAD``.
    """
    model = model_from_args(args)
    options = options_from(args, bool(args.strict))
    if plan is not None:
        found = accept_given_plan(plan, env.registry, workspace, options.python)[1]
    else:  # the model plans once the run has started; the workspace is checked now
        found = preflight(Plan(goal=args.request), env.registry, workspace, python=options.python)
    thread: str = args.thread or uuid.uuid4().hex[:12]
    watch = RunWatch(thread, found.workspace, args.db)

    def announce() -> None:
        """The thread and how to resume it, once the run really starts (lock held, thread new)."""
        watch.started = True
        if args.json:
            started = RunStarted(
                event="run",
                thread=thread,
                workspace=str(found.workspace),
                python=found.python.python,
                source=found.python.source,
            )
            print_line(json.dumps(started))
            return
        env.out.print(
            f"thread [bold]{thread}[/] (if it is interrupted: {watch.resume_command()})",
            highlight=False,
        )
        env.out.print(f"checks run with {found.python.describe()}", highlight=False)

    async def go() -> Report:
        from phasegraph.graph.run import run_plan, run_request  # LangGraph: only when running

        async with persisted_graph(env, db, model=model, approve=args.approve) as graph:
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            if (await graph.aget_state(config)).values:
                raise PreflightError(
                    f"thread {thread} already holds a run; resume it with `phasegraph resume "
                    f"{thread}` or start a new run without --thread"
                )
            announce()
            with events_and_approval(env, args.json, args.approve) as (on_event, on_interrupt):
                if plan is None:
                    return await run_request(
                        graph,
                        args.request,
                        found.workspace,
                        options=options,
                        thread_id=thread,
                        on_event=watch.watching(on_event),
                        on_interrupt=on_interrupt,
                    )
                return await run_plan(
                    graph,
                    plan,
                    found.workspace,
                    options=options,
                    thread_id=thread,
                    on_event=watch.watching(on_event),
                    on_interrupt=on_interrupt,
                )

    # The lock first: a run refused as busy prints no thread and no resume hint.
    with workspace_lock(found.workspace, thread):
        db = database(args.db, found.workspace)
        report = run_until_signal(go(), watch, env.err)
    return finish(env, report, args, resume=watch.resume_command(), undo=watch.undo_command())


def finish(
    env: Env,
    report: Report,
    args: argparse.Namespace,
    *,
    resume: str | None = None,
    undo: str | None = None,
) -> int:
    """Show the report (a table, or a final JSON line), write ``--report``, give the exit code.

    ``resume``: the command that continues the run, told in a report that a fault stopped;
    ``undo``: the command that undoes it (``phasegraph undo``), told instead of git's.
    """
    report = with_undo(with_resume(report, resume), undo)
    if args.json:
        print_line(json.dumps({"event": "report", **report.model_dump(mode="json")}))
    else:
        print_report(env.out, report)
    if args.report is not None:
        data = json.dumps(report.model_dump(mode="json"), indent=2) + "\n"
        try:  # checked before the run; written whole or not at all
            atomic_write(args.report, data.encode())
        except OSError as exc:
            env.err.print(
                f"[bold red]error:[/] could not write --report {args.report}: {exc.strerror}"
            )
    return exit_code(report)


def with_resume(report: Report, resume: str | None) -> Report:
    """``report``, its error ending in ``resume with: COMMAND`` when a fault of the machine
    (a full disk, a database gone) stopped the run: put that right, and the command goes on."""
    from phasegraph.graph.durable.faults import FAULT  # loaded by then: the run was driven by it

    if resume is None or report.status != "stopped" or report.failure_kind != FAULT:
        return report
    return report.model_copy(update={"error": f"{report.error}; resume with: {resume}"})


def with_undo(report: Report, undo: str | None) -> Report:
    """``report`` telling ``undo`` (``phasegraph undo THREAD``) as the way to undo the run,
    where the run wrote files: it restores their exact bytes from the pre-images the run
    kept (ignored files and workspaces outside git too) and reverts the run's commit. A
    report a fault stopped keeps git's commands: the run's checkpoint, which that undo
    reads, may lack the write the fault interrupted."""
    from phasegraph.graph.durable.faults import FAULT  # loaded by then: the run was driven by it

    if undo is None or not report.written or report.restored or report.failure_kind == FAULT:
        return report
    return report.model_copy(update={"undo": [undo]})


def exit_code(report: Report) -> int:
    if report.status == "completed":
        return EXIT_OK
    return EXIT_BAD_INPUT if report.failure_kind in ("input", "preflight") else EXIT_STOPPED
