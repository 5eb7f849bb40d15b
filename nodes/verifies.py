"""The verify phase: every check at once (each a LangGraph task, durable on its own, at most
``concurrency`` running), each judged against its baseline."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.durable.pre_run_tree import put_back
from phasegraph.graph.durable.undo import Preimages
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import PlanStep
from phasegraph.graph.model.state import (
    Failure,
    State,
    StepRecord,
    StepTask,
    VerifyOutcome,
    baseline_key,
)
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.steps.eager import Job, Update, merged, run_jobs
from phasegraph.graph.steps.runner import StepRunner, emit, lock_owner, options, record
from phasegraph.nodes.baseline_after import (
    before_the_run,
    keep_learned,
    kept_result,
    pending,
)
from phasegraph.nodes.reads import task
from phasegraph.skills.base import SkillKind, SkillResult
from phasegraph.skills.core.errors import UndoError
from phasegraph.skills.python.checkers.config import checks_configured_by, config_changes

#: Introduced findings whose explanation (a failing test's assertion) a verdict keeps.
MAX_DETAILS = 10


def split_findings(after: list[str], before: list[str]) -> tuple[list[str], list[str]]:
    """(introduced, pre-existing) as a multiset difference: a second copy of an old one is new."""
    old = Counter(before)
    introduced, preexisting = [], []
    for item in after:
        if old[item] > 0:
            old[item] -= 1
            preexisting.append(item)
        else:
            introduced.append(item)
    return introduced, preexisting


def lost_checks(held: dict[str, Any], result: SkillResult) -> list[tuple[str, str]]:
    """What held before the writes and does not after them, with why: a test that passed
    and is now skipped, xfailed, deselected or gone (one that fails is a finding already)."""
    now = set(result.checked) | set(result.findings)
    not_passed = result.data.get("not_passed") or {}
    lost = []
    for test in held.get("checked", []):
        if test not in now:
            how = (
                not_passed.get(test)
                or not_passed.get(test.split("::", 1)[0])  # its module, skipped whole
                or "not run (removed, deselected or no longer collected)"
            )
            lost.append(
                (
                    f"{test}: passed before the run, {re.split('[:(]', how)[0].strip()} after it",
                    f"passed on the untouched tree; after the writes: {how}",
                )
            )
    return lost


def config_findings(state: State, skill: str) -> list[tuple[str, str]]:
    """Each change the run's writes made to ``skill``'s own configuration: the check after
    the writes ran under a configuration the run wrote, so it is no check of the change.
    Blocking (reads the files and their pre-images)."""
    workspace = Path(state["workspace"])
    preimages = Preimages(workspace, state["run_id"])
    found = []
    for rel in state.get("written", []):
        if skill not in checks_configured_by(rel):
            continue
        try:
            before = preimages.original(rel)
        except (KeyError, UndoError):
            before = b"\0unknown"  # no pre-image kept: any content counts as a change
        path = workspace / rel
        after = path.read_bytes() if path.is_file() else None
        change = config_changes(skill, rel, before, after)
        if change:
            found.append(
                (
                    change,
                    "the check after the writes ran under a configuration the run wrote; "
                    "write the configuration in a run of its own, or set "
                    "accept_fewer_checks: true in the plan if the change means to check less",
                )
            )
    return found


def make_verify(runner: StepRunner, concurrency: int) -> StateNode:
    """The verify node: every verify step of the plan, all of them run (a check that cannot
    run does not stop the others: the gate wants every verdict), at most ``concurrency``
    at once (:mod:`phasegraph.graph.steps.eager`). A check whose baseline is taken after the writes
    is judged once what did not pass after them has run on the tree as it was before the run
    (:mod:`phasegraph.nodes.baseline_after`), after every check has run."""

    async def verify(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        workspace = Path(state["workspace"])
        try:  # a moment on the earlier tree that a crash cut short: the run's bytes first
            async with hold_workspace(workspace, lock_owner(state)):
                await asyncio.to_thread(put_back, workspace, state["run_id"])
        except UndoError as exc:
            return {"failure": Failure(step=None, kind="verify", error=str(exc))}
        baseline = state.get("baseline", {})
        steps = steps_of(state, runner.registry, SkillKind.VERIFY)
        where = {s["id"]: task(state, s, baseline.get(s["id"])) for s in steps}
        jobs = [Job(f"verify:{i}", _check(runner, w, runtime, state)) for i, w in where.items()]
        update = merged(await run_jobs(jobs, concurrency, stop_on_failure=False))
        after: dict[str, Any] = update.pop("after", {})
        if not after:
            return update
        wanted = await pending(runner, state, runtime, after)

        async def earlier() -> Update:
            return await before_the_run(runner, state, runtime, wanted, concurrency)

        ran = merged(await run_jobs([Job("before-the-run", earlier)], 1)) if wanted else {}
        before: dict[str, Any] = ran.pop("before", {})
        if ran.get("failure"):
            return merged([update, ran])
        judged = []
        for step_id, kept in after.items():
            held = before.get(step_id) or {"findings": [], "checked": [], "not_passed": {}}
            record = update["steps"][step_id]
            judged.append(
                await asyncio.to_thread(
                    _judged,
                    state,
                    runtime,
                    where[step_id]["step"],
                    held["findings"],
                    held,
                    SkillResult.model_validate(kept),
                    record,
                )
            )
        await keep_learned(runner, state, runtime, after, before)
        return merged([update, ran, *judged])

    return verify


def _check(
    runner: StepRunner, task: StepTask, runtime: Runtime[RunOptions], state: State
) -> Callable[[], Awaitable[Update]]:
    """Run one verify step after the writes and judge its findings against its baseline (or
    keep its result, when its baseline is taken after the writes)."""

    async def check() -> Update:
        step = task["step"]
        failpoint(f"verify:{step['id']}")
        held = await runner.records(runtime, task["run_id"]).baseline(step["id"])
        selected = held.get("selected")
        # A baseline taken after the writes may run again what did not pass: its run is got
        # ready beside this one (Skill.ahead), and ended with the run when it is not needed.
        again: PlanStep = {**step, "id": baseline_key(step["id"])}
        getting_ready = asyncio.ensure_future(
            runner.ready(again, task, runtime) if held.get("deferred") else asyncio.sleep(0)
        )
        try:
            outcome = await runner.run(
                step,
                task,
                runtime,
                failure_kind="verify",
                selected_before=tuple(selected) if selected is not None else None,
            )
        finally:
            await getting_ready
        if outcome.result is None:
            return {"steps": {step["id"]: outcome.record}, "failure": outcome.failure}
        if held.get("deferred"):
            return {
                "steps": {step["id"]: outcome.record},
                "after": {step["id"]: kept_result(outcome.result)},
            }
        return await asyncio.to_thread(
            _judged, state, runtime, step, task["baseline"], held, outcome.result, outcome.record
        )

    return check


def _judged(
    state: State,
    runtime: Runtime[RunOptions],
    step: PlanStep,
    before: list[str],
    held: dict[str, Any],
    result: SkillResult,
    ran: StepRecord | dict[str, Any],
) -> Update:
    """The verdict on one check: its findings after the writes (``result``, row ``ran``)
    against those ``before`` them, and what held before (``held``) against what holds after.
    Blocking (reads the check's configuration files)."""
    strict = options(runtime).strict
    introduced, preexisting = split_findings(result.findings, before)
    if strict:
        introduced, preexisting = list(result.findings), []
    weakened = lost_checks(held, result)
    weakened += config_findings(state, step["skill"])
    accepted: list[str] = []
    if (state.get("plan") or {}).get("accept_fewer_checks"):
        accepted = [f for f, _ in weakened]
    else:
        introduced += [f for f, _ in weakened]
    blocking = bool(introduced)
    summary = result.summary
    if introduced:  # the new finding first: that is what blocks
        more = f" (+{len(introduced) - 1} more)" if len(introduced) > 1 else ""
        summary = f"new: {introduced[0]}{more}; {len(preexisting)} pre-existing — {summary}"
    elif preexisting:
        summary = f"0 new, {len(preexisting)} pre-existing — {summary}"
    row = record(
        step,
        "verify",
        "failed" if blocking else "done",
        summary,
        started_at=ran["started_at"],
        ended_at=ran["ended_at"],
    )
    emit(runtime, row)  # the judged row, always: a log prints a check once it is judged
    details = {**result.details, **dict(weakened)}
    verdict = VerifyOutcome(
        introduced=introduced,
        preexisting=preexisting,
        blocking=blocking,
        details={f: details[f] for f in introduced[:MAX_DETAILS] if f in details},
        summary=result.summary,
        accepted=accepted,
    )
    if result.data.get("selection"):
        verdict["selection"] = result.data["selection"]
    return {"steps": {step["id"]: row}, "verdicts": {step["id"]: verdict}}
