"""Why a pytest run checked nothing: a timeout, pytest not installed, a conftest or test module
that cannot be collected, no tests at all, an internal or usage error. Such a run is an error,
never green, whatever its baseline says."""

from __future__ import annotations

import re
from typing import Any

from phasegraph.skills.base import SkillContext
from phasegraph.skills.checks import relativize
from phasegraph.skills.core.text import clip
from phasegraph.skills.guards.procs import ProcResult

_CONFTEST_ERROR = re.compile(r"ImportError while loading conftest '([^']+)'")


def not_run(
    ctx: SkillContext,
    proc: ProcResult,
    uncollected: list[dict[str, Any]],
    running: list[str],
    any_failed: bool,
    ran: bool,
) -> str | None:
    """Why the suite did not really run (``None`` when it did): a timeout, a test module or
    conftest that cannot be collected, no tests at all, an internal or usage error.

    Such a run checked nothing, whatever the baseline says, so it can never be green.
    """
    code = proc.returncode
    output = proc.stderr + proc.stdout
    if proc.timed_out:
        hung = f"; still running: {', '.join(running[:5])}" if running else ""
        fix = f" (or leave it out: --deselect {running[0]})" if running else ""
        return (
            f"pytest did not finish within {ctx.timeout:g}s and was stopped{hung}; "
            f"raise the step timeout (--step-timeout SECONDS, RunOptions.step_timeout){fix}"
        )
    if "No module named pytest" in output and not proc.stdout.strip():
        return (
            f"pytest is not installed in {ctx.python.describe()}; install it there "
            f"({ctx.python.python} -m pip install pytest) or pass --python"
        )
    conftest = _CONFTEST_ERROR.search(output)
    if conftest:
        path = relativize(ctx.workspace, conftest.group(1))
        error = _error_line(proc.stderr)
        return f"{path}: {error}{_install_hint(ctx, error)}"
    if uncollected:
        first = uncollected[0]
        error = _error_line(first["message"])
        more = f" (and {len(uncollected) - 1} more)" if len(uncollected) > 1 else ""
        return (
            f"pytest could not collect {first['nodeid']}{more}: {error}{_install_hint(ctx, error)}"
            f"; fix it, or leave it out of the check (args: [--ignore={first['nodeid']}])"
        )
    if code == 5 and ran:
        return None
    if code == 5:
        return (
            "pytest collected no tests, so nothing was checked; point run_pytest at the tests "
            "(paths, -k) or remove the step"
        )
    if (code in (1, 2) and not any_failed) or code not in (0, 1, 2):
        what = {2: "was interrupted", 3: "hit an internal error", 4: "was used wrongly"}
        return (
            f"pytest {what.get(code, f'failed with exit code {code}')} and ran no test to the "
            f"end; its output says:\n{_excerpt(output)}"
        )
    return None


def _error_line(text: str) -> str:
    """The error of a traceback in one line: its last ``E   ...`` line, else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    return clip(errors[-1] if errors else (lines[-1] if lines else "(no output)"))


def _install_hint(ctx: SkillContext, error: str) -> str:
    if "ImportError" not in error and "ModuleNotFoundError" not in error:
        return ""
    if ctx.python.own:
        return (
            f" — is the project installed in the interpreter phasegraph uses "
            f"({ctx.python.python}, phasegraph's own)? give the project's with --python, "
            "or create the workspace's .venv"
        )
    return (
        f" — is the project installed in the interpreter phasegraph uses "
        f"({ctx.python.describe()})? install it there, or see --python"
    )


def _excerpt(output: str, lines: int = 15) -> str:
    """The lines of ``output`` that say what went wrong: pytest's INTERNALERROR lines (their
    end, where the exception is), else its first lines."""
    all_lines = [ln for ln in output.splitlines() if ln.strip()]
    internal = [ln for ln in all_lines if ln.startswith("INTERNALERROR>")]
    shown = internal[-lines:] if internal else all_lines[:lines]
    return "\n".join(ln[:300] for ln in shown) or "(no output)"
