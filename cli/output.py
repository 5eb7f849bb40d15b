"""Standard output that a closed pipe (``phasegraph run --json ... | head -1``) never stops.

When the reader goes away the run goes on: what is left to print goes to ``/dev/null``,
and the exit status stays the run's.
"""

from __future__ import annotations

import contextlib
import os
import sys

from rich.console import Console


def line_buffered() -> None:
    """Flush every line at once, even into a pipe: a reader sees the first event right away."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(line_buffering=True)


def stdout_gone() -> None:
    """The reader of stdout went away: send the rest to ``/dev/null`` and carry on.

    Pointing the descriptor at ``/dev/null`` (rather than closing it) also keeps the
    interpreter's final flush from failing at exit.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def print_line(text: str) -> None:
    """Write one line to stdout and flush it; a closed pipe silences the rest of the output."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_gone()


class PipeSafeConsole(Console):
    """A rich console that goes quiet on a closed pipe instead of exiting (rich's default)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        if not self.stderr:
            stdout_gone()
