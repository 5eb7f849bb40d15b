"""A remote run's prepare step: the project's environment on a fresh clone (``uv sync
--frozen``, ``pip install -e .`` into its ``.venv``...), the command the server's owner allows,
with its own todo row and timeout. Its failure stops the run before any write."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.remote import PREPARE, RemoteSettings
from phasegraph.graph.model.state import Failure, StepRecord, StepStatus
from phasegraph.graph.steps.runner import emit, options, record
from phasegraph.skills.core.redact import scrub_env
from phasegraph.skills.core.text import clip
from phasegraph.skills.guards.procs import run_program


def remote_row(
    step: str, status: StepStatus, summary: str = "", started: float | None = None
) -> StepRecord:
    """The todo row of a remote run's own step (``checkout``, ``prepare``, ``push``)."""
    ended = time.time() if status in ("done", "failed") else None
    return record(
        {"id": step, "skill": step.removeprefix("remote:")},
        "remote",
        status,
        summary,
        started_at=started,
        ended_at=ended,
    )


async def prepare(
    workspace: Path,
    argv: list[str],
    settings: RemoteSettings,
    runtime: Runtime[RunOptions] | None,
    rows: dict[str, StepRecord],
) -> Failure | None:
    """Run the prepare step in ``workspace`` with its own row and timeout (``None``: it
    passed)."""
    started = time.time()
    shown = shlex.join(argv)
    rows[PREPARE] = remote_row(PREPARE, "running", shown, started)
    emit(runtime, rows[PREPARE])
    opts = options(runtime)
    env = scrub_env(os.environ) if opts.scrub_env else dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # the project's own environment, never the server's
    try:
        done = await run_program(argv, cwd=workspace, timeout=settings.prepare_timeout, env=env)
    except Exception as exc:  # the program is missing: the owner's setting names it
        error = f"the prepare step ({shown}) could not start: {exc}"
        rows[PREPARE] = remote_row(PREPARE, "failed", clip(error, 200), started)
        emit(runtime, rows[PREPARE])
        return Failure(step=PREPARE, kind="preflight", error=error)
    if done.returncode == 0 and not done.timed_out:
        rows[PREPARE] = remote_row(PREPARE, "done", shown, started)
        emit(runtime, rows[PREPARE])
        return None
    why = (
        f"timed out after {settings.prepare_timeout:g}s"
        if done.timed_out
        else f"exited {done.returncode}: {clip((done.stderr or done.stdout).strip(), 1500)}"
    )
    error = (
        f"the prepare step ({shown}) {why}; nothing was written. Fix the project's setup "
        "(or the server's PHASEGRAPH_PREPARE), then run again"
    )
    rows[PREPARE] = remote_row(PREPARE, "failed", clip(error, 200), started)
    emit(runtime, rows[PREPARE])
    return Failure(step=PREPARE, kind="preflight", error=error)
