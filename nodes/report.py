"""The final nodes: ``report`` after a completed run, ``stop_and_report`` after any failure.

A run that wrote files leaves its record in the workspace
(:mod:`phasegraph.graph.durable.run_index`), so undo finds a run made without a checkpointer
by its id, and puts the tried change in the report as a diff. A stopped run with
``on_stop="restore"`` first puts the tree back exactly as it was before the run (the writer's
pre-images, under the workspace lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.durable.run_index import record_of, record_run, valid_run_id
from phasegraph.graph.durable.tried_diff import tried_diff
from phasegraph.graph.durable.undo import undo_run
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.events import run_ended
from phasegraph.graph.model.report import Report, build_report, to_dict
from phasegraph.graph.model.state import State, StepRecord
from phasegraph.graph.steps.runner import emit, lock_owner, options
from phasegraph.graph.steps.take_over import left
from phasegraph.skills.core.errors import PhasegraphError
from phasegraph.skills.run_pytest import ahead as pytest_ahead


async def report(state: State, runtime: Runtime[RunOptions]) -> dict[str, Any]:
    await pytest_ahead.discard(state.get("run_id", ""))  # none is left waiting once the run ends
    built = await settle(state, runtime, build_report(state, "completed"))
    final = to_dict(built)
    await drop_clone(state)
    runtime.stream_writer(run_ended("completed", final))
    return {"report": final}


async def stop_and_report(state: State, runtime: Runtime[RunOptions]) -> dict[str, Any]:
    """Stop the run: every step that has not run is skipped, and the report says why."""
    await pytest_ahead.discard(state.get("run_id", ""))  # an after-run started ahead never runs
    skipped: dict[str, StepRecord] = {}
    for step_id, row in state.get("steps", {}).items():
        if row["status"] == "pending":
            skipped[step_id] = StepRecord(**{**row, "status": "skipped"})
            emit(runtime, skipped[step_id])
    ended: State = {**state, "steps": {**state.get("steps", {}), **skipped}}
    final = to_dict(await settle(ended, runtime, build_report(ended, "stopped")))
    await drop_clone(state)
    runtime.stream_writer(run_ended("stopped", final))
    return {"steps": skipped, "report": final}


async def drop_clone(state: State) -> None:
    """A remote run's clone, removed once its report is built: what the run made is on the
    remote (its branch) or in the report (the tried diff)."""
    if state.get("remote") and state.get("workspace"):
        await asyncio.to_thread(shutil.rmtree, str(state["workspace"]), ignore_errors=True)
        left(Path(str(state["workspace"])))


async def settle(state: State, runtime: Runtime[RunOptions], built: Report) -> Report:
    """``built`` with the tried diff, after putting the tree back when the run stopped and
    its options say ``restore``; the run's record kept in its workspace. A run that wrote
    nothing, or that preflight never accepted (its workspace missing, outside a server's
    roots, refused: ``dirty`` is in the state only once the planner accepted the workspace),
    leaves nothing there."""
    run_id = str(state.get("run_id") or "")
    workspace = Path(str(state.get("workspace") or ""))
    written = list(state.get("written", []))
    if "dirty" not in state or not valid_run_id(run_id) or not written:
        return built  # a run that wrote nothing leaves nothing to undo, and no trace
    if not await asyncio.to_thread(workspace.is_dir):  # gone since: nothing to keep there
        return built
    diff = await asyncio.to_thread(tried_diff, workspace, run_id, written)
    update: dict[str, Any] = {"diff": diff}
    restored = False
    if built.status == "stopped" and options(runtime).on_stop == "restore":
        restored, note = await _restore(state, workspace)
        update["notes"] = [*built.notes, note]
        if restored:
            update["restored"], update["undo"] = True, []
    thread = get_config().get("configurable", {}).get("thread_id")

    def keep_record() -> None:  # it resolves paths and writes a file: a worker thread
        record = record_of(
            dict(state),
            thread=str(thread) if thread else None,
            status=built.status,
            restored=restored,
        )
        record_run(workspace, record)

    with contextlib.suppress(OSError):  # a full disk: the report still goes out
        await asyncio.to_thread(keep_record)
    return built.model_copy(update=update)


async def _restore(state: State, workspace: Path) -> tuple[bool, str]:
    """Put the run's files back as they were before it (the user's are never among them: a
    write to one is refused); whether it did, and the report's note saying what happened."""
    undo = f"`phasegraph undo {state.get('run_id')} -w {workspace}`"
    if state.get("commit_sha"):
        return False, (
            f"on_stop=restore: not restored, the run had committed {state['commit_sha']}; "
            f"undo it with {undo}"
        )
    try:
        async with hold_workspace(workspace, lock_owner(state)):
            done = await undo_run(dict(state))
    except (PhasegraphError, OSError) as exc:
        return False, (
            f"on_stop=restore: the tree was not put back: {exc}. The tried change is still in "
            f"the working tree: put it right, then undo it with {undo}"
        )
    back = [
        f"restored {', '.join(done.restored)}" if done.restored else "",
        f"removed {', '.join(done.removed)}" if done.removed else "",
    ]
    said = "; ".join(p for p in back if p) or "every file was already as it was"
    return True, f"on_stop=restore: the tree was put back as it was before the run ({said})"
