"""The ``phasegraph`` command line: each command lives in its own ``*_cmd`` module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.markup import escape

from phasegraph.cli import (
    campaign_cmd,
    durable_cmd,
    info_cmd,
    mcp_cmd,
    plan_cmd,
    run_cmd,
    runs_cmd,
)
from phasegraph.cli.common import EXIT_BAD_INPUT, Env, consoles
from phasegraph.cli.interrupt import handle_signals, interrupted_code
from phasegraph.cli.output import line_buffered
from phasegraph.cli.project_defaults import apply_project_defaults
from phasegraph.skills.core.errors import PlanError, PreflightError, UndoError, WorkspaceBusy
from phasegraph.skills.registry import default_registry

COMMANDS = (run_cmd, durable_cmd, runs_cmd, info_cmd, plan_cmd, mcp_cmd, campaign_cmd)


def version() -> str:
    """The installed distribution's version (``phasegraph --version``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("phasegraph")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e . in its folder)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="phasegraph",
        description="Run a plan the careful way: reads in parallel, writes one at a time and "
        "verified, checks in parallel, a commit only when green.",
    )
    p.add_argument("--version", action="version", version=f"phasegraph {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (see :mod:`phasegraph.cli.common` for the table)."""
    args = parser().parse_args(argv)
    line_buffered()
    out, err = consoles()
    env = Env(out=out, err=err, registry=default_registry())
    handle_signals()
    try:
        apply_project_defaults(args)  # [tool.phasegraph] under the flags given
        code: int = args.handler(args, env)
    except (PlanError, PreflightError, WorkspaceBusy, UndoError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # before or after a run: a run's own interrupt exits in it
        err.print("[bold yellow]interrupted[/] (no run was in progress)")
        return interrupted_code()
    return code


if __name__ == "__main__":
    sys.exit(main())
