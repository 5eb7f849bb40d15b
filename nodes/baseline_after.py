"""A check's baseline taken after the writes: the suite paid for once when the change is green.

With ``RunOptions.baseline="auto"`` (the default), a check that can list what it would run
(:attr:`phasegraph.skills.base.Skill.collect`: run_pytest) does not run on the untouched tree
before the writes, unless a model call hides that run (:mod:`phasegraph.nodes.reads`). Before
the writes it only lists the tests it would run (``collected``: every one, or a targeted
check's selection, whose files are ``reach``); a suite that cannot be collected stops the
run there, before any write. After the writes it runs once, as always. What it cannot judge
from that one run is every test that did not pass after the writes (failed, skipped, xfailed)
and every listed test that is gone: those, and only those, run again on the tree as it was
before the run, the files the run wrote put back for that moment
(:mod:`phasegraph.graph.durable.pre_run_tree`: journaled, under the workspace lock, the run's bytes
back however the moment ends), and that run is their baseline. The gate's rule does not
change: every test that passed before the run passes after it.

Tests it does not run again, and why that is sound:

- a test in a file the run created, or one the writes added to a listed file (not listed
  before them): it did not exist before the run, so it is new, as a full baseline says too;
- a test that passed after the writes: nothing to compare.

When the narrowed run cannot run (a node id pytest cannot find on the earlier tree), the
whole check runs on the earlier tree: the full baseline, late. A test that hangs is found by
the run after the writes (it times out there, and the run stops with its writes to undo),
not before them as a baseline run first would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.durable.baseline_cache import BaselineCache
from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.durable.pre_run_tree import put_back, put_before
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.state import Failure, State, baseline_key
from phasegraph.graph.model.steps import plan_steps
from phasegraph.graph.steps.eager import Job, Update, merged, run_jobs
from phasegraph.graph.steps.runner import StepRunner, emit, lock_owner, options
from phasegraph.nodes.reads import task
from phasegraph.skills.base import SkillResult
from phasegraph.skills.core.errors import UndoError
from phasegraph.skills.core.text import plural


def kept_result(result: SkillResult) -> dict[str, Any]:
    """What a check's run after the writes keeps for its judgement once the earlier tree has
    run (a task's checkpointed result: the ids, not the output)."""
    data = {k: result.data[k] for k in ("not_passed", "selection") if k in result.data}
    return result.model_copy(update={"data": data}).model_dump(mode="json")


def unsure_tests(held: dict[str, Any], after: SkillResult, created: set[str]) -> list[str]:
    """The tests (node ids, or files) of a check whose state before the run its one run after
    the writes cannot tell: every one that did not pass, and every listed one that is gone,
    except those that did not exist before the run."""
    collected: list[str] = held.get("collected", [])
    reach: list[str] | None = held.get("reach")
    listed = set(collected)
    not_passed = list(after.data.get("not_passed") or {})
    bad = list(dict.fromkeys([*after.findings, *not_passed]))
    seen = set(after.checked) | set(bad)
    gone = [t for t in collected if t not in seen]
    unsure = []
    for test in [*bad, *gone]:
        file = test.split("::", 1)[0]
        if file in created:
            continue  # the run made it
        if "::" in test and test not in listed and (reach is None or file in reach):
            continue  # the writes added it to a file that was listed before them
        unsure.append(test)
    return unsure


async def pending(
    runner: StepRunner, state: State, runtime: Runtime[RunOptions], after: dict[str, Any]
) -> dict[str, list[str]]:
    """For each check in ``after`` (its kept result), what must run on the earlier tree
    (strict: only what may have been lost, not the failures, which block anyway)."""
    created = set(state.get("created", []))
    records = runner.records(runtime, state["run_id"])
    wanted: dict[str, list[str]] = {}
    for step_id, kept in after.items():
        held = await records.baseline(step_id)
        result = SkillResult.model_validate(kept)
        tests = unsure_tests(held, result, created)
        if options(runtime).strict:  # a failure blocks whatever it was before: not asked
            tests = [t for t in tests if t not in result.findings]
        if tests:
            wanted[step_id] = tests
    return wanted


async def before_the_run(
    runner: StepRunner,
    state: State,
    runtime: Runtime[RunOptions],
    wanted: dict[str, list[str]],
    concurrency: int,
) -> Update:
    """Run each check of ``wanted`` on the tree as it was before the run, narrowed to its
    tests (``[]``: all of it); ``{"before": {step id: its baseline}}``, or a failure."""
    workspace = Path(state["workspace"])
    run_id = state["run_id"]
    steps = {s["id"]: s for s in plan_steps(state)}
    written = list(state.get("written", []))

    def job(step_id: str, tests: list[str]) -> Job:
        step = steps[step_id]
        key = baseline_key(step_id)

        async def run() -> Update:
            narrowed = runner.narrowed(step, tests) if tests else None
            where = task(state, step)
            for tried in [s for s in (narrowed, step) if s is not None]:
                outcome = await runner.run(
                    {**tried, "id": key}, where, runtime, store_output=False, phase="baseline"
                )
                if outcome.result is not None:
                    which = f"only {plural(len(tests), 'test')}" if tried is narrowed else "all"
                    first = (state.get("steps") or {}).get(key)
                    listed = first["summary"] if first else ""
                    row = outcome.record.copy()
                    row["summary"] = "; ".join(
                        [
                            *([listed] if listed else []),
                            f"then on the tree before the run, {which} that did not pass "
                            f"after it: {outcome.result.summary}",
                        ]
                    )
                    emit(runtime, row)
                    return {"steps": {key: row}, "before": {step_id: outcome.result.as_baseline()}}
            error = outcome.failure["error"] if outcome.failure else "no result"
            failure = Failure(
                step=step_id,
                kind="verify",
                error=f"{step_id} could not run on the tree as it was before the run (its "
                f"baseline, taken after the writes), so nothing tells its new findings from "
                f"old ones: {error}; run it again with the option baseline='before'",
            )
            return {"steps": {key: outcome.record}, "failure": failure}

        return Job(f"before:{step_id}", run)

    try:
        async with hold_workspace(workspace, lock_owner(state)):
            try:
                await asyncio.to_thread(put_before, workspace, run_id, written)
                jobs = [job(step_id, tests) for step_id, tests in wanted.items()]
                update = merged(await run_jobs(jobs, concurrency, stop_on_failure=False))
                failpoint("pre-run-checked")
            finally:
                await asyncio.to_thread(put_back, workspace, run_id)
    except UndoError as exc:
        return {"failure": Failure(step=None, kind="verify", error=str(exc))}
    return update


def learned(
    held: dict[str, Any], after: SkillResult, before: dict[str, Any] | None, created: set[str]
) -> dict[str, Any]:
    """What the run learned of the tree as it was before it, as a baseline to keep for that
    tree (:mod:`phasegraph.graph.durable.baseline_cache`): the tests run on it again as they were,
    and every other test that existed then and passed after the writes as passed. A later
    reuse re-runs every failure it claims (:func:`phasegraph.nodes.reads._baseline`), and a
    test it wrongly calls passed can only block a run, never let a failure through."""
    before = before or {"findings": [], "checked": [], "not_passed": {}}
    listed = set(held.get("collected", []))
    reach: list[str] | None = held.get("reach")

    def existed(test: str) -> bool:
        file = test.split("::", 1)[0]
        if file in created:
            return False
        return test in listed or (reach is not None and file not in reach)

    ran = {*before["checked"], *before["findings"], *before["not_passed"]}
    passed = [t for t in after.checked if t not in ran and existed(t)]
    checked = [*before["checked"], *passed]
    return {
        "findings": list(before["findings"]),
        "summary": f"pytest: {len(checked)} passed, {len(before['findings'])} failed "
        "(learned by a run with its baseline taken after the writes)",
        "checked": checked,
        "not_passed": dict(before["not_passed"]),
        "selected": list(held.get("selected", [])),
    }


async def keep_learned(
    runner: StepRunner,
    state: State,
    runtime: Runtime[RunOptions],
    after: dict[str, Any],
    before: dict[str, Any],
) -> None:
    """Keep what each check of ``after`` learned of the earlier tree, for a later run on it
    (a retry, a re-run) to reuse; only where ``baseline_cache`` is on and the tree is known."""
    tree = state.get("tree")
    if not tree or not options(runtime).baseline_cache:
        return
    cache = BaselineCache(Path(state["workspace"]), tree)
    records = runner.records(runtime, state["run_id"])
    created = set(state.get("created", []))
    for step_id, kept in after.items():
        held = await records.baseline(step_id)
        key = held.get("cache_key")
        if key:
            taken = learned(held, SkillResult.model_validate(kept), before.get(step_id), created)
            await asyncio.to_thread(cache.put, key, taken)
