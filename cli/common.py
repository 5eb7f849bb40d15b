"""What every CLI command shares: exit codes, consoles, the registry.

Exit codes: 0 the run completed (or the command did its job); 1 the run stopped (a step
failed, a check blocked the commit); 2 bad input, nothing touched (a plan, a path, a
database, a busy workspace; argparse's usage errors too); 130 interrupted by SIGINT
(Ctrl-C), 143 by SIGTERM: the run's checkpoints are kept, ``phasegraph resume`` continues it.
"""

from __future__ import annotations

import argparse
import signal
from dataclasses import dataclass

from rich.console import Console

from phasegraph.cli.output import PipeSafeConsole
from phasegraph.skills.registry import SkillRegistry

EXIT_OK, EXIT_STOPPED, EXIT_BAD_INPUT = 0, 1, 2
#: The shell's convention for a process ended by a signal: 128 + its number.
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


@dataclass
class Env:
    """The consoles and registry a command works with."""

    out: Console
    err: Console
    registry: SkillRegistry


def consoles() -> tuple[Console, Console]:
    # soft_wrap: messages stay on one line when piped, so logs and tools can grep them.
    out = PipeSafeConsole(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        # Piped or logged: rich would fold the report at 80 columns.
        out = PipeSafeConsole(highlight=False, soft_wrap=True, width=160)
    return out, PipeSafeConsole(stderr=True, highlight=False, soft_wrap=True)


def seconds_arg(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def attempts_arg(text: str) -> int:
    """An argparse type: a whole number of attempts, 1 or more."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of attempts, 1 or more")
    return int(text)
