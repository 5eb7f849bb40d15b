"""The ``phasegraph`` command line: run, validate, skills, demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from phasegraph.cli.progress import Progress
from phasegraph.cli.show import print_report
from phasegraph.graph.builder import build_orchestrator
from phasegraph.graph.errors import PlanError, PreflightError
from phasegraph.graph.plan import Plan, check_plan, load_plan
from phasegraph.graph.preflight import preflight
from phasegraph.graph.recipes import expand_recipe
from phasegraph.graph.report import Report
from phasegraph.graph.run import run_plan
from phasegraph.graph.state import RunOptions
from phasegraph.skills.registry import SkillRegistry, default_registry

EXIT_OK, EXIT_STOPPED, EXIT_BAD_INPUT = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="phasegraph",
        description="Run a plan the careful way: reads in parallel, writes one at a time and "
        "verified, checks in parallel, a commit only when green.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a plan (YAML or JSON) on a workspace")
    run.add_argument("plan", type=Path, help="plan file")
    run.add_argument("--workspace", "-w", type=Path, required=True, help="repository to work on")
    run.add_argument("--report", type=Path, help="write the JSON report to this file")
    run.add_argument("--thread", help="thread id for the run's checkpoints (default: new)")
    run.add_argument("--strict", action="store_true", help="any verify failure blocks the commit")
    val = sub.add_parser("validate", help="check a plan without running it")
    val.add_argument("plan", type=Path)
    val.add_argument("--workspace", "-w", type=Path, help="also check paths and programs here")
    sub.add_parser("skills", help="list the available skills")
    demo = sub.add_parser("demo", help="run the full five phases on a bundled sample repo")
    demo.add_argument("--dir", type=Path, help="where to put the sample repo (default: a temp dir)")
    demo.add_argument("--report", type=Path, help="write the JSON report to this file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # soft_wrap: messages stay on one line when piped, so logs and tools can grep them.
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        # Piped or logged: rich would fold the report at 80 columns.
        console = Console(highlight=False, soft_wrap=True, width=160)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    registry = default_registry()
    try:
        if args.command == "skills":
            return list_skills(console, registry)
        if args.command == "validate":
            return validate(console, registry, args.plan, args.workspace)
        if args.command == "demo":
            return demo(console, registry, args.dir, args.report)
        plan = load_plan(args.plan)
        return execute(
            console, registry, plan, args.workspace, args.report, args.thread, args.strict
        )
    except (PlanError, PreflightError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return EXIT_BAD_INPUT


def list_skills(console: Console, registry: SkillRegistry) -> int:
    table = Table("skill", "phase", "arguments", "what it does")
    for skill in registry:
        fields = ", ".join(skill.args_model.model_fields)
        table.add_row(skill.name, skill.kind.value, fields, skill.description)
    console.print(table)
    return EXIT_OK


def validate(console: Console, registry: SkillRegistry, path: Path, workspace: Path | None) -> int:
    plan = expand_recipe(load_plan(path))
    if workspace is not None:
        preflight(plan, registry, workspace)
    check_plan(plan, registry, workspace=workspace.resolve() if workspace else None)
    console.print(f"[green]ok[/]: {path} is a valid plan of {len(plan.steps)} steps")
    return EXIT_OK


def execute(
    console: Console,
    registry: SkillRegistry,
    plan: Plan,
    workspace: Path,
    report_file: Path | None,
    thread: str | None,
    strict: bool = False,
) -> int:
    """Validate and preflight (exit 2 on bad input, nothing touched), run, report."""
    expanded = expand_recipe(plan)
    found = preflight(expanded, registry, workspace)
    check_plan(expanded, registry, workspace=found.workspace)
    graph = build_orchestrator(registry)
    with Progress(console) as progress:
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
    print_report(console, report)
    if report_file is not None:
        report_file.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    return exit_code(report)


def exit_code(report: Report) -> int:
    if report.status == "completed":
        return EXIT_OK
    return EXIT_BAD_INPUT if report.failure_kind in ("input", "preflight") else EXIT_STOPPED


def demo(
    console: Console, registry: SkillRegistry, where: Path | None, report_file: Path | None
) -> int:
    from phasegraph.demo import DEMO_PLAN, prepare_sample_repo

    root = where or Path(tempfile.mkdtemp(prefix="phasegraph-demo-"))
    repo = prepare_sample_repo(root / "inventory" if where is None else root)
    console.print(f"[bold]phasegraph demo[/]: sample repo at {repo}")
    console.print(f"goal: {DEMO_PLAN['goal']}\n")
    return execute(console, registry, Plan.model_validate(DEMO_PLAN), repo, report_file, None)


if __name__ == "__main__":
    sys.exit(main())
