"""Stopping cleanly on SIGINT or SIGTERM: the running step's processes die, a resume hint shows.

While a run's event loop runs, either signal cancels it: the step awaiting a subprocess is
cancelled, and ``skills/guards/procs.py`` kills that subprocess's whole process group. The run's
checkpoints stay, so the message names the thread and the command that continues it. Outside
the loop (reading the plan, preflight) both signals raise ``KeyboardInterrupt``.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.markup import escape

from phasegraph.graph.model.events import EventHandler

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
_last_signal: list[int] = [signal.SIGINT]


def shown_db(db: str) -> str:
    """``db`` as it may be printed: a URL's password replaced by ``***``."""
    parts = urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class RunWatch:
    """What an interrupt message needs: the thread, where it resumes, the steps running."""

    thread: str
    workspace: Path | None = None
    db: str | None = None
    """The ``--db`` the user gave (``None``: the workspace's default database)."""
    started: bool = False
    """The run has begun: its thread holds checkpoints a resume continues from."""
    running: dict[str, None] = field(default_factory=dict)

    def on_event(self, event: Mapping[str, Any]) -> None:
        if event.get("event") != "step":
            return
        step = str(event.get("id"))
        if event.get("status") == "running":
            self.running[step] = None
        else:
            self.running.pop(step, None)

    def watching(self, sink: EventHandler) -> EventHandler:
        """``sink``, with this watch seeing every event first."""

        def both(event: Mapping[str, Any]) -> None:
            self.on_event(event)
            sink(event)

        return both

    def resume_command(self) -> str:
        where = f" -w {self.workspace}" if self.workspace is not None else ""
        db = f" --db {shown_db(self.db)}" if self.db else ""
        return f"phasegraph resume {self.thread}{where}{db}"

    def undo_command(self) -> str:
        """The command that undoes the run: its files back from their kept pre-images, its
        commit reverted."""
        where = f" -w {shlex.quote(str(self.workspace))}" if self.workspace is not None else ""
        db = f" --db {shlex.quote(shown_db(self.db))}" if self.db else ""
        return f"phasegraph undo {shlex.quote(self.thread)}{where}{db}"

    def message(self, signum: int) -> str:
        name = signal.Signals(signum).name
        if not self.started:
            return f"interrupted ({name}) before the run started; nothing was changed"
        at = f" at step {', '.join(self.running)}" if self.running else ""
        return f"interrupted{at} ({name}); resume with: {self.resume_command()}"


def run_until_signal(coro: Coroutine[Any, Any, T], watch: RunWatch, err: Console) -> T:
    """``asyncio.run(coro)``; on SIGINT/SIGTERM cancel it, say where it stopped and how to
    resume, and exit 130 or 143 (``SystemExit``, after the caller's locks are released)."""
    got: list[tuple[int, str]] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def stop(signum: int) -> None:
            if not got and task is not None:
                got.append((signum, watch.message(signum)))  # the steps running right now
                task.cancel()

        for signum in SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await coro
        finally:
            for signum in SIGNALS:
                loop.remove_signal_handler(signum)
            handle_signals()

    try:
        return asyncio.run(main())
    except BaseException:
        if not got:
            raise
        signum, message = got[0]
        err.print(f"[bold yellow]{escape(message)}[/]")
        raise SystemExit(128 + signum) from None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _last_signal[0] = signum
    raise KeyboardInterrupt


def handle_signals() -> None:
    """Outside an event loop, SIGINT and SIGTERM both raise ``KeyboardInterrupt``."""
    for signum in SIGNALS:
        signal.signal(signum, _interrupt)


def interrupted_code() -> int:
    """The exit code for the last ``KeyboardInterrupt``: 130 (SIGINT) or 143 (SIGTERM)."""
    return 128 + _last_signal[0]
