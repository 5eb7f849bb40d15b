"""The read phase: every read eager and durable on its own, the verify baselines, and the
consolidation started the moment the last read ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.durable.baseline_cache import BaselineCache
from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import PlanStep
from phasegraph.graph.model.state import Failure, State, StepTask, baseline_key
from phasegraph.graph.model.steps import status, steps_of
from phasegraph.graph.steps.eager import Job, Update, merged, run_jobs
from phasegraph.graph.steps.runner import StepRunner, emit, options, record
from phasegraph.skills.base import SkillKind
from phasegraph.skills.python.env.python_env import PythonEnv


def task(state: State, step: PlanStep, baseline: list[str] | None = None) -> StepTask:
    return StepTask(
        workspace=state["workspace"],
        run_id=state["run_id"],
        step=step,
        baseline=baseline or [],
        environment=state.get("environment", {}),
        tree=state.get("tree"),
    )


def read_jobs(runner: StepRunner, state: State, runtime: Runtime[RunOptions]) -> list[Job]:
    """A job for every read that has not run, after the reads it depends on."""

    def job(step: PlanStep) -> Job:
        async def read() -> Update:
            kept = await runner.records(runtime, state["run_id"]).output(step["id"])
            if kept is not None and kept.get("record"):
                return {"steps": {step["id"]: kept["record"]}, "failure": None}
            failpoint(f"read:{step['id']}")
            outcome = await runner.run(step, task(state, step), runtime)
            return {"steps": {step["id"]: outcome.record}, "failure": outcome.failure}

        return Job(f"read:{step['id']}", read, [f"read:{dep}" for dep in step.get("after", [])])

    reads = steps_of(state, runner.registry, SkillKind.READ)
    return [job(step) for step in reads if status(state, step["id"]) == "pending"]


def baseline_jobs(
    runner: StepRunner,
    state: State,
    runtime: Runtime[RunOptions],
    *,
    writes_known: bool,
    hidden: bool = False,
) -> list[Job]:
    """A job for every verify step whose baseline the gate needs and has not been taken.

    Strict mode needs no findings from before (any finding blocks, old or new), only what
    passed before, for the tests lost: a check that can list what it would run lists it, and
    the rest is taken after the writes (:mod:`phasegraph.nodes.baseline_after`), whatever
    ``RunOptions.baseline`` says; the others take none. A targeted check selects its
    tests by the files the run will write, so its baseline waits until ``writes_known``
    (the final plan's write steps are in the run store); so does a check that takes its
    baseline after the writes (a check that can list what it would run, with
    ``RunOptions.baseline="auto"``), unless a model call ``hidden``
    (the LLM consolidator's, starting now) costs the run more than its whole baseline.
    """
    strict = bool(state.get("strict"))
    taken = state.get("baseline", {})
    jobs = []
    for step in steps_of(state, runner.registry, SkillKind.VERIFY):
        skill = runner.registry.get(step["skill"])
        listable = skill is not None and skill.collect is not None
        if strict and not listable:  # every finding blocks: nothing to know of before
            continue
        # Strict only lists, to know what passed before (lost tests), whatever the option.
        auto = options(runtime).baseline == "auto" and (writes_known or not hidden)
        later = listable and (strict or auto)
        if step["id"] in taken or (not writes_known and (runner.by_writes(step) or later)):
            continue
        jobs.append(
            Job(baseline_key(step["id"]), _baseline(runner, task(state, step), runtime, later))
        )
    return jobs


def _baseline(
    runner: StepRunner, where: StepTask, runtime: Runtime[RunOptions], later: bool = False
) -> Callable[[], Any]:
    """Run a verify step on the untouched tree, so the gate can tell new findings from old.

    Its row (phase ``baseline``, id ``baseline:<id>``) is one of its own in the todo list
    and the event stream. A baseline kept from an earlier run on the very same tree, check
    and tools is reused, and its row says so (:mod:`phasegraph.graph.durable.baseline_cache`). A
    check that cannot run here (a suite that does not import, a tool that fails to start)
    would be no check after the writes either: the run stops before any write, as a
    preflight failure. ``later``: when none is kept, only list what the check would run
    (:attr:`Skill.collect`); the rest of its baseline is taken after the writes
    (:mod:`phasegraph.nodes.baseline_after`).
    """
    step = where["step"]
    key = baseline_key(step["id"])
    # A row of its own in the todo list and the event stream.
    row_step: PlanStep = {**step, "id": key}

    async def baseline() -> Update:
        # The check's run after the writes gets ready beside it (Skill.ahead), in the
        # background: the baseline's own program starts first, and ends no sooner.
        getting_ready = asyncio.ensure_future(runner.ready(step, where, runtime))
        try:
            return await untouched()
        finally:
            await getting_ready

    async def untouched() -> Update:
        tree = where.get("tree")
        cache = BaselineCache(Path(where["workspace"]), tree) if tree else None
        kept_key = None
        if cache is not None and options(runtime).baseline_cache:
            env = PythonEnv.from_dict(where.get("environment"))
            keyed: dict[str, Any] = dict(step)  # as BaselineCache.key takes a step
            if runner.by_writes(step):  # its tests depend on what the run writes: so does its key
                keyed["planned_files"] = await runner.planned_files(runtime, where)
            kept_key = await asyncio.to_thread(cache.key, keyed, runner.registry, env)
            kept = await asyncio.to_thread(cache.get, kept_key)
            if kept is not None:
                kept = await confirmed(kept)
            if kept is not None:
                now = time.time()
                summary = f"reused from an earlier run on this same tree: {kept['summary']}"
                row = record(row_step, "baseline", "done", summary, started_at=now, ended_at=now)
                emit(runtime, row)
                await seen(kept)
                return {"steps": {key: row}, "baseline": {step["id"]: kept["findings"]}}
        outcome = await runner.run(
            row_step,
            where,
            runtime,
            failure_kind="preflight",
            store_output=False,
            phase="baseline",
            collect=later,
        )
        rows = {key: outcome.record}
        if outcome.failure is not None or outcome.result is None:
            error = outcome.failure["error"] if outcome.failure else "no result"
            failure = Failure(
                step=step["id"],
                kind="preflight",
                error=f"{step['id']} could not run on the untouched tree (its baseline), so "
                f"the run stopped before any write: {error}",
            )
            return {"steps": rows, "failure": failure}
        if later:
            listed = {
                "deferred": True,
                "collected": list(outcome.result.checked),
                "reach": outcome.result.data.get("reach"),
                "selected": outcome.result.as_baseline().get("selected", []),
                "cache_key": kept_key,  # what the run learns of this tree is kept under it
            }
            await runner.records(runtime, where["run_id"]).put_baseline(step["id"], listed)
            return {"steps": rows, "baseline": {step["id"]: []}}
        taken = outcome.result.as_baseline()
        if cache is not None and kept_key is not None:
            await asyncio.to_thread(cache.put, kept_key, taken)
        await seen(taken)
        return {"steps": rows, "baseline": {step["id"]: outcome.result.findings}}

    async def seen(kept: dict[str, Any]) -> None:
        """Keep what held before the writes, for the gate (:mod:`phasegraph.nodes.verifies`)."""
        held = {
            "checked": kept.get("checked", []),
            "not_passed": kept.get("not_passed", {}),
            **({"selected": kept["selected"]} if "selected" in kept else {}),
        }
        await runner.records(runtime, where["run_id"]).put_baseline(step["id"], held)

    async def confirmed(kept: dict[str, Any]) -> dict[str, Any] | None:
        """A kept baseline as the untouched tree has it now, or ``None`` (run it again).

        Its key is the tree as git sees it: an ignored file (``.env``), an environment
        variable or a service can have changed since, and a failure it claims as already
        there would let a new one through. So every test it saw not pass is run again now,
        on the untouched tree (only those); a check that cannot be narrowed that way is
        reused only when it had no findings.
        """
        if not kept["findings"] and not kept.get("not_passed"):
            return kept
        unsure = [*(f for f in kept["findings"] if "::" in f), *kept.get("not_passed", {})]
        if not unsure:  # only paths not found: the tree, which is the key, decides those
            return kept
        narrowed = runner.narrowed(step, unsure)
        if narrowed is None:
            return None
        again = await runner.run(
            {**narrowed, "id": key}, where, runtime, store_output=False, phase="baseline"
        )
        if again.result is None:
            return None
        now = again.result.as_baseline()
        # A finding that is no test (a path not found) is decided by the tree: keep it.
        kept_paths = [f for f in kept["findings"] if "::" not in f]
        return {
            **kept,
            "findings": [*kept_paths, *now["findings"]],
            "checked": [*kept.get("checked", []), *now["checked"]],
            "not_passed": now["not_passed"],
        }

    return baseline


def make_reads(
    runner: StepRunner, concurrency: int, consolidation: StateNode, *, model_given: bool = False
) -> StateNode:
    """The read node: every read dispatched the moment its own ``after`` reads finish
    (not level by level), each durable on its own (:mod:`phasegraph.graph.steps.eager`).

    The baselines run beside the reads from the start (the gate needs them, nothing else
    does), and ``consolidation`` (:func:`~phasegraph.nodes.consolidation.make_consolidation`:
    the writes from a recipe, or a model call) starts the moment the last read ends, so a
    baseline slower than the reads runs beside the model call too instead of delaying it
    (``model_given``: the graph has a consolidator model; a run's context may name one
    too). The consolidate node then takes the baselines the consolidation added, and those
    taken after the writes.
    """

    async def reads(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        read = read_jobs(runner, state, runtime)
        plan = state.get("plan") or {}
        hidden = not plan.get("recipe") and bool(model_given or options(runtime).model)

        async def consolidate() -> Update:
            return await consolidation(state, runtime=runtime)

        after_reads = [job.name for job in read]
        jobs = [
            *read,
            *baseline_jobs(runner, state, runtime, writes_known=False, hidden=hidden),
            Job("consolidate", consolidate, after_reads, bounded=False),
        ]
        return merged(await run_jobs(jobs, concurrency))

    return reads
