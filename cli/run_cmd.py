"""``phasegraph run`` and ``phasegraph demo``: run a plan with live progress and a report."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from phasegraph.cli.common import EXIT_BAD_INPUT, EXIT_OK, EXIT_STOPPED, Env
from phasegraph.cli.progress import Progress
from phasegraph.cli.show import print_report
from phasegraph.graph.builder import build_orchestrator
from phasegraph.graph.plan import Plan, check_plan, load_plan
from phasegraph.graph.preflight import preflight
from phasegraph.graph.recipes import expand_recipe
from phasegraph.graph.report import Report
from phasegraph.graph.run import run_plan
from phasegraph.graph.state import RunOptions


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a plan (YAML or JSON) on a workspace")
    run.add_argument("plan", type=Path, help="plan file")
    run.add_argument("--workspace", "-w", type=Path, required=True, help="repository to work on")
    run.add_argument("--report", type=Path, help="write the JSON report to this file")
    run.add_argument("--thread", help="thread id for the run's checkpoints (default: new)")
    run.add_argument("--strict", action="store_true", help="any verify failure blocks the commit")
    run.set_defaults(handler=run_command)
    demo = sub.add_parser("demo", help="run the full five phases on a bundled sample repo")
    demo.add_argument("--dir", type=Path, help="where to put the sample repo (default: a temp dir)")
    demo.add_argument("--report", type=Path, help="write the JSON report to this file")
    demo.set_defaults(handler=demo_command)


def run_command(args: argparse.Namespace, env: Env) -> int:
    plan = load_plan(args.plan)
    return execute(env, plan, args.workspace, args.report, args.thread, args.strict)


def demo_command(args: argparse.Namespace, env: Env) -> int:
    from phasegraph.demo import DEMO_PLAN, prepare_sample_repo

    where: Path | None = args.dir
    root = where or Path(tempfile.mkdtemp(prefix="phasegraph-demo-"))
    repo = prepare_sample_repo(root / "inventory" if where is None else root)
    env.out.print(f"[bold]phasegraph demo[/]: sample repo at {repo}")
    env.out.print(f"goal: {DEMO_PLAN['goal']}\n")
    return execute(env, Plan.model_validate(DEMO_PLAN), repo, args.report, None)


def execute(
    env: Env,
    plan: Plan,
    workspace: Path,
    report_file: Path | None,
    thread: str | None,
    strict: bool = False,
) -> int:
    """Validate and preflight (exit 2 on bad input, nothing touched), run, report."""
    expanded = expand_recipe(plan)
    found = preflight(expanded, env.registry, workspace)
    check_plan(expanded, env.registry, workspace=found.workspace)
    graph = build_orchestrator(env.registry)
    with Progress(env.out) as progress:
        report = asyncio.run(
            run_plan(
                graph,
                plan,
                found.workspace,
                options=RunOptions(strict=strict),
                thread_id=thread,
                on_event=progress.on_event,
            )
        )
    return finish(env, report, report_file)


def finish(env: Env, report: Report, report_file: Path | None) -> int:
    """Print the report, write it to ``report_file`` if asked, and give the exit code."""
    print_report(env.out, report)
    if report_file is not None:
        report_file.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    return exit_code(report)


def exit_code(report: Report) -> int:
    if report.status == "completed":
        return EXIT_OK
    return EXIT_BAD_INPUT if report.failure_kind in ("input", "preflight") else EXIT_STOPPED
