"""The push node: a remote run's commit, pushed to the new branch its input names.

Only a remote run whose gate was green and whose commit landed gets here. The commit goes to
a new branch of the remote (never the ref the run started from, never a force-push), and the
push is confirmed by reading the branch back. A worker that takes over a run whose first
worker had pushed finds the same change there and takes it, so a run pushes one commit.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Literal

from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.remote import PUSH, RemoteSettings
from phasegraph.graph.model.state import Failure, State
from phasegraph.graph.steps.prepare import remote_row
from phasegraph.graph.steps.runner import emit, options
from phasegraph.skills.core.errors import InputRefused, PreflightError, RemoteError
from phasegraph.skills.core.retry import retrying
from phasegraph.skills.guards.gitremote import push_new_branch, shown_url
from phasegraph.skills.guards.gitrepo import head_sha


async def push(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
    remote = state["remote"]
    workspace = Path(state["workspace"])
    # HEAD, not the state's commit: a worker that took the run over made it again.
    commit = await asyncio.to_thread(head_sha, workspace)
    if not state.get("commit_sha") or commit is None or commit == remote["base"]:
        return {}  # nothing committed (a plan without a commit step, or nothing to commit)
    started = time.time()
    where = f"{remote['push']} of {shown_url(remote['repo'])}"
    rows = {PUSH: remote_row(PUSH, "running", f"pushing {commit[:12]} to {where}", started)}
    emit(runtime, rows[PUSH])
    try:
        settings = await asyncio.to_thread(RemoteSettings.from_env)
        # A push that failed half-way is safe to try again: it finds its own change there.
        async for attempt in retrying(options(runtime).retries):
            with attempt:
                pushed = await asyncio.to_thread(
                    push_new_branch,
                    workspace,
                    remote["repo"],
                    remote["push"],
                    commit,
                    remote["base"],
                    settings.access,
                    protected=remote["ref"],
                )
    except (RemoteError, InputRefused, PreflightError) as exc:
        rows[PUSH] = remote_row(PUSH, "failed", str(exc)[:200], started)
        emit(runtime, rows[PUSH])
        error = f"the commit {commit[:12]} was made but not pushed: {exc}"
        return {"steps": rows, "failure": Failure(step=PUSH, kind="remote", error=error)}
    said = "already there" if pushed.already else "pushed"
    rows[PUSH] = remote_row(PUSH, "done", f"{pushed.sha[:12]} {said} on {where}", started)
    emit(runtime, rows[PUSH])
    return {"steps": rows, "remote": {**remote, "pushed": pushed.sha}, "commit_sha": pushed.sha}


def route_push(state: State) -> Literal["report", "stop_and_report"]:
    return "stop_and_report" if state.get("failure") else "report"
