"""Live progress for the terminal: a todo table redrawn as steps change."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

STYLES = {
    "pending": "dim",
    "running": "yellow",
    "done": "green",
    "failed": "bold red",
    "skipped": "dim strike",
}
ICONS = {"pending": "·", "running": "▶", "done": "✓", "failed": "✗", "skipped": "-"}


class Progress:
    """Collects step events and shows them live (a table on a terminal, lines otherwise).

    Off a terminal each change is a line, and a line cannot be taken back: a check's row
    once it ran (``done``, whatever it found) waits until the gate's judgement of it (the
    same row again, ``failed`` or with its new summary), or until the run moves past the
    checks, so a log never shows a ✓ for a check the gate then fails.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[str, dict[str, Any]] = {}
        self.live: Live | None = None
        #: Off a terminal: verify rows whose check ran, not printed until judged.
        self.held: dict[str, Mapping[str, Any]] = {}

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.live = Live(self.table(), console=self.console, refresh_per_second=8)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(None, None, None)
        self.flush()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop redrawing the table while a prompt waits for an answer."""
        if self.live is None:
            yield
            return
        self.live.stop()
        try:
            yield
        finally:
            self.live.start()

    def on_event(self, event: Mapping[str, Any]) -> None:
        if event.get("event") != "step":
            return
        previous = self.rows.get(event["id"], {})
        self.rows[event["id"]] = {**previous, **event}
        if self.live is not None:
            self.live.update(self.table())
            return
        judged = self.held.pop(event["id"], None) is not None
        if event.get("phase") not in ("verify", "baseline"):
            self.flush()  # past the checks: each was judged, unchanged if not shown again
        elif event["status"] == "done" and not judged:
            self.held[event["id"]] = event
            return
        if event["status"] != "pending" or not previous:
            self.console.print(self.line(event), highlight=False)

    def flush(self) -> None:
        """Print the held verify rows (off a terminal): their judgement changed nothing."""
        held, self.held = self.held, {}
        for row in held.values():
            self.console.print(self.line(row), highlight=False)

    def line(self, row: Mapping[str, Any]) -> Text:
        status = row["status"]
        text = Text(f"{ICONS.get(status, '?')} {row['phase']:<7} {row['id']:<28} {status:<8} ")
        text.stylize(STYLES.get(status, ""))
        text.append(row.get("summary") or "")
        return text

    def table(self) -> Group:
        if not self.rows:  # nothing to show yet (or ever, for a run stopped while planning)
            return Group()
        table = Table(show_header=True, header_style="bold", expand=False)
        for column in ("", "phase", "step", "status", "time", "summary"):
            table.add_column(column, overflow="fold")
        for row in self.rows.values():
            status = row["status"]
            started, ended = row.get("started_at"), row.get("ended_at")
            if started and ended:
                took = f"{ended - started:.2f}s"
            elif started:
                took = f"{time.time() - started:.1f}s…"
            else:
                took = ""
            table.add_row(
                ICONS.get(status, "?"),
                row["phase"],
                row["id"],
                Text(status, style=STYLES.get(status, "")),
                took,
                Text(row.get("summary") or ""),  # plain text: a test id's [params] kept
            )
        return Group(table)
