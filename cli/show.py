"""The final report, readable at a glance."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from phasegraph.cli.progress import ICONS, STYLES
from phasegraph.graph.report import Report


def print_report(console: Console, report: Report) -> None:
    table = Table("", "phase", "step", "status", "summary", title=report.goal or None)
    for step in report.steps:
        table.add_row(
            ICONS.get(step.status, "?"),
            step.phase,
            step.id,
            f"[{STYLES.get(step.status, '')}]{step.status}[/]",
            step.summary,
        )
    console.print(table)
    if report.status == "completed":
        commit = f", committed {report.commit}" if report.commit else ""
        console.print(f"[bold green]completed[/]: {len(report.written)} file(s) written{commit}")
    else:
        where = f" at step {report.failed_step!r}" if report.failed_step else ""
        console.print(f"[bold red]stopped{where}[/] ({report.failure_kind}): {report.error}")
        if report.written:
            console.print(f"already written: {', '.join(report.written)}")
    for step_id, items in report.preexisting.items():
        console.print(
            f"[yellow]pre-existing in {step_id}[/] (not blocking): {len(items)} finding(s)"
        )
    total = report.usage.total
    if total.calls or total.failed_calls:
        nodes = ", ".join(f"{name} {u.calls}" for name, u in report.usage.by_node.items())
        failed = f", {total.failed_calls} failed" if total.failed_calls else ""
        console.print(
            f"model: {total.calls} call(s) ({nodes}{failed}), "
            f"{total.input_tokens:,} input + {total.output_tokens:,} output tokens"
        )
    if report.undo:
        console.print("to undo: " + " && ".join(report.undo))
