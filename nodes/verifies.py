"""The verify phase: every check at once (each a LangGraph task, durable on its own, at most
``concurrency`` running), each judged against its baseline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.context import RunOptions
from phasegraph.graph.failpoints import failpoint
from phasegraph.graph.state import State, StepTask, VerifyOutcome
from phasegraph.nodes.eager import Job, Update, merged, run_jobs
from phasegraph.nodes.execute import StepRunner, emit, options, record
from phasegraph.nodes.plan_view import steps_of
from phasegraph.nodes.reads import task
from phasegraph.nodes.types import StateNode
from phasegraph.skills.base import SkillKind

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


def make_verify(runner: StepRunner, concurrency: int) -> StateNode:
    """The verify node: every verify step of the plan, all of them run (a check that cannot
    run does not stop the others: the gate wants every verdict), at most ``concurrency``
    at once (:mod:`phasegraph.nodes.eager`)."""

    async def verify(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        baseline = state.get("baseline", {})
        steps = steps_of(state, runner.registry, SkillKind.VERIFY)
        where = [task(state, step, baseline.get(step["id"])) for step in steps]
        jobs = [Job(f"verify:{w['step']['id']}", _check(runner, w, runtime)) for w in where]
        return merged(await run_jobs(jobs, concurrency, stop_on_failure=False))

    return verify


def _check(
    runner: StepRunner, task: StepTask, runtime: Runtime[RunOptions]
) -> Callable[[], Awaitable[Update]]:
    """Run one verify step after the writes and judge its findings against its baseline."""

    async def check() -> Update:
        step = task["step"]
        failpoint(f"verify:{step['id']}")
        outcome = await runner.run(step, task, runtime, failure_kind="verify")
        if outcome.result is None:
            return {"steps": {step["id"]: outcome.record}, "failure": outcome.failure}
        strict = options(runtime).strict
        introduced, preexisting = split_findings(outcome.result.findings, task["baseline"])
        if strict:
            introduced, preexisting = list(outcome.result.findings), []
        blocking = bool(introduced)
        summary = outcome.result.summary
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
            started_at=outcome.record["started_at"],
            ended_at=outcome.record["ended_at"],
        )
        if row["status"] != outcome.record["status"] or row["summary"] != outcome.record["summary"]:
            emit(runtime, row)
        details = outcome.result.details
        verdict = VerifyOutcome(
            introduced=introduced,
            preexisting=preexisting,
            blocking=blocking,
            details={f: details[f] for f in introduced[:MAX_DETAILS] if f in details},
            summary=outcome.result.summary,
        )
        return {"steps": {step["id"]: row}, "verdicts": {step["id"]: verdict}}

    return check
