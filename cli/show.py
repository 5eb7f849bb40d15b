"""The final report, readable at a glance.

Everything a run reports (errors, summaries, test ids, paths) is shown as plain text, never
read as rich markup: a parametrised test id such as ``test_x[a-b]`` would lose its brackets.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phasegraph.cli.progress import ICONS, STYLES
from phasegraph.graph.model.report import Report


def print_report(console: Console, report: Report) -> None:
    if report.steps or report.baselines:
        _print_steps(console, report)
    else:  # no plan had been accepted (a model's plan refused, ...): no empty table
        if report.goal:
            console.print(f"goal: {report.goal}", highlight=False, markup=False)
        if report.status == "stopped":
            console.print("no step ran: the run stopped while planning", markup=False)
    _print_outcome(console, report)


def _print_steps(console: Console, report: Report) -> None:
    """The steps, in the order they ran: the baselines before the first write."""
    title = Text(report.goal) if report.goal else None
    table = Table("", "phase", "step", "status", "summary", title=title)
    first_verify = next((n for n, s in enumerate(report.steps) if s.phase == "verify"), None)
    steps = list(report.steps)
    if report.baselines:  # the untouched tree's checks, where the run took them: before writes
        at = first_verify if first_verify is not None else len(steps)
        writes = next((n for n, s in enumerate(steps) if s.phase == "write"), at)
        steps[min(at, writes) : min(at, writes)] = report.baselines
    for step in steps:
        table.add_row(
            ICONS.get(step.status, "?"),
            step.phase,
            step.id,
            Text(step.status, style=STYLES.get(step.status, "")),
            Text(step.summary),
        )
    console.print(table)


def _print_outcome(console: Console, report: Report) -> None:
    if report.status == "completed":
        commit = f", committed {report.commit}" if report.commit else ""
        console.print(f"[bold green]completed[/]: {len(report.written)} file(s) written{commit}")
    else:
        where = f" at step {report.failed_step!r}" if report.failed_step else ""
        console.print(
            f"[bold red]stopped{escape(where)}[/] ({report.failure_kind}): "
            f"{escape(report.error or '')}"
        )
        if report.written and report.restored:
            console.print(
                f"written, then put back as they were (--on-stop restore): "
                f"{', '.join(report.written)}",
                markup=False,
            )
        elif report.written:
            console.print(f"already written: {', '.join(report.written)}", markup=False)
    for step_id, found in report.new_findings.items():
        console.print(f"[bold red]new in {step_id}[/] ({len(found)}):")
        for item in found[:10]:
            console.print(f"  {item.finding}", highlight=False, markup=False)
            for line in item.detail.splitlines():
                console.print(f"      {line}", highlight=False, markup=False)
    for step_id, items in report.preexisting.items():
        console.print(
            f"[yellow]pre-existing in {step_id}[/] (not blocking): {len(items)} finding(s)"
        )
    for step_id, items in report.accepted.items():
        console.print(
            f"[yellow]checked less in {step_id}[/] (accepted by the plan): {len(items)}",
            highlight=False,
        )
        for text in items[:10]:
            console.print(f"  {text}", highlight=False, markup=False)
    for step_id, selection in report.selections.items():
        _print_selection(console, step_id, selection)
    for note in report.notes:
        console.print(note, highlight=False, markup=False)
    total = report.usage.total
    if total.calls or total.failed_calls:
        nodes = ", ".join(f"{name} {u.calls}" for name, u in report.usage.by_node.items())
        failed = f", {total.failed_calls} failed" if total.failed_calls else ""
        console.print(
            f"model: {total.calls} call(s) ({nodes}{failed}), "
            f"{total.input_tokens:,} input + {total.output_tokens:,} output tokens"
        )
    if report.interpreter.python:
        where = report.interpreter.source
        version = f"Python {report.interpreter.version}, " if report.interpreter.version else ""
        console.print(
            f"checks ran with {report.interpreter.python} ({version}{where})",
            highlight=False,
            markup=False,
        )
    if report.undo:
        console.print("to undo: " + " && ".join(report.undo), markup=False)


def _print_selection(console: Console, step_id: str, selection: dict[str, Any]) -> None:
    """What a targeted check ran, every file with why, and how many it left out (their
    names are in ``--report`` and ``--json``)."""
    files: list[str] = selection.get("files") or []
    if selection.get("fallback"):
        console.print(f"{step_id} targeted: {selection['fallback']}", markup=False)
        if not files:
            return
    considered = selection.get("considered") or len(files)
    console.print(f"{step_id} targeted: {len(files)} of {considered} test files", markup=False)
    why: dict[str, str] = selection.get("why") or {}
    for name in files:
        console.print(f"  {name} — {why.get(name, 'selected')}", highlight=False, markup=False)
    left = selection.get("left_out") or 0
    if left:
        console.print(f"  left out: {left} test files (listed in --report)", markup=False)
