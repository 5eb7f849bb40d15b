"""What every CLI command shares: exit codes, consoles, the registry."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from phasegraph.skills.registry import SkillRegistry

EXIT_OK, EXIT_STOPPED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass
class Env:
    """The consoles and registry a command works with."""

    out: Console
    err: Console
    registry: SkillRegistry


def consoles() -> tuple[Console, Console]:
    # soft_wrap: messages stay on one line when piped, so logs and tools can grep them.
    out = Console(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        # Piped or logged: rich would fold the report at 80 columns.
        out = Console(highlight=False, soft_wrap=True, width=160)
    return out, Console(stderr=True, highlight=False, soft_wrap=True)
