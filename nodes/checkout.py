"""The checkout node: a remote run's first step. Clone the repository the run names into the
owner's work directory, record the base commit, start the branch the commit will be pushed
to, and run the prepare step (the project's environment on a fresh clone).

It runs only for a run whose input names a ``repo`` (no ``workspace``); the planner then
works on the clone as on any workspace. A refused remote, a clone or a prepare step that
fails stops the run before anything else runs.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.remote import (
    CHECKOUT,
    PREPARE,
    RemoteRun,
    RemoteSettings,
    clone_name,
    remote_input_problem,
)
from phasegraph.graph.model.state import Failure, FailureKind, State
from phasegraph.graph.steps.prepare import prepare, remote_row
from phasegraph.graph.steps.runner import emit, options
from phasegraph.graph.steps.take_over import made_here
from phasegraph.skills.core.errors import InputRefused, PreflightError, RemoteError
from phasegraph.skills.core.retry import retrying
from phasegraph.skills.core.text import clip
from phasegraph.skills.guards.gitremote import clone_at, shown_url, start_branch
from phasegraph.skills.guards.workspace import read_toml


async def checkout(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
    try:  # git (a branch name's check) and the file system: a worker thread
        settings, problem = await asyncio.to_thread(_admitted, state)
    except PreflightError as exc:
        return {"failure": Failure(step=CHECKOUT, kind="preflight", error=str(exc))}
    if problem is not None:
        return {"failure": Failure(step=CHECKOUT, kind="input", error=problem)}
    thread = str(get_config().get("configurable", {}).get("thread_id") or "")
    repo, ref, push = str(state["repo"]), str(state.get("ref") or "HEAD"), str(state["push"])
    remote = RemoteRun(repo=repo, ref=ref, push=push, base="", clone=clone_name(thread), prepare=[])
    dest = settings.clone_path(remote)
    started = time.time()
    rows = {
        CHECKOUT: remote_row(CHECKOUT, "running", f"cloning {shown_url(repo)} at {ref}", started)
    }
    emit(runtime, rows[CHECKOUT])
    try:
        base = await _clone(repo, ref, push, dest, settings, options(runtime).retries)
    except (InputRefused, RemoteError, OSError) as exc:
        kind: FailureKind = "input" if isinstance(exc, InputRefused) else "remote"
        rows[CHECKOUT] = remote_row(CHECKOUT, "failed", clip(str(exc), 200), started)
        emit(runtime, rows[CHECKOUT])
        return {"steps": rows, "failure": Failure(step=CHECKOUT, kind=kind, error=str(exc))}
    remote["base"] = base
    made_here(dest)
    rows[CHECKOUT] = remote_row(
        CHECKOUT, "done", f"{shown_url(repo)} at {base[:12]} on {push}", started
    )
    emit(runtime, rows[CHECKOUT])
    update: dict[str, Any] = {"workspace": str(dest), "remote": remote, "steps": rows}
    try:
        table = await asyncio.to_thread(read_toml, dest / "pyproject.toml")
        named = (table.get("tool") or {}).get("phasegraph", {})
        remote["prepare"] = list(settings.prepare_for(named.get("prepare")))
    except (ValueError, AttributeError) as exc:
        return {**update, "failure": Failure(step=PREPARE, kind="preflight", error=str(exc))}
    if remote["prepare"]:
        failed = await prepare(dest, remote["prepare"], settings, runtime, rows)
        if failed is not None:
            return {**update, "failure": failed}
    return update


def _admitted(state: State) -> tuple[RemoteSettings, str | None]:
    """The owner's settings, and why the run's remote input may not run (``None``: it may)."""
    settings = RemoteSettings.from_env()
    problem = remote_input_problem(state)
    return settings, problem or settings.access.refusal(str(state["repo"]))


async def _clone(
    repo: str, ref: str, push: str, dest: Path, settings: RemoteSettings, attempts: int
) -> str:
    """Clone ``repo`` at ``ref`` into ``dest``, on a new local branch ``push`` (a partial
    clone of an attempt that died is removed first); a transient fault (the network) is
    tried again, ``attempts`` times in all."""
    await asyncio.to_thread(settings.work_dir.mkdir, parents=True, exist_ok=True)
    async for attempt in retrying(attempts):
        with attempt:
            await asyncio.to_thread(shutil.rmtree, dest, ignore_errors=True)
            base = await asyncio.to_thread(clone_at, repo, ref, dest, settings.access)
            await asyncio.to_thread(start_branch, dest, push)
    return base
