"""Running one step: events before and after, retries for transient faults, outputs stored."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from pydantic import ValidationError

from phasegraph.graph.model.context import RunOptions, served_options
from phasegraph.graph.model.events import step_event
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import PlanStep
from phasegraph.graph.model.run_store import RunStore
from phasegraph.graph.model.state import Failure, FailureKind, State, StepRecord, StepStatus
from phasegraph.graph.preflight.dry_run import target_files
from phasegraph.skills.base import SkillContext, SkillResult
from phasegraph.skills.core.errors import InputRefused, SkillError
from phasegraph.skills.core.redact import redact, redact_data
from phasegraph.skills.core.retry import retrying
from phasegraph.skills.core.text import clip, describe_errors
from phasegraph.skills.python.env.python_env import PythonEnv
from phasegraph.skills.registry import SkillRegistry

#: A step as the runner takes one: a plan's step (:class:`PlanStep`, as the state holds it), or
#: a mapping of the same keys built by hand (a caller embedding the runner, a test); its key
#: reads are checked against :class:`PlanStep`'s keys all the same.
StepLike = PlanStep | Mapping[str, Any]


def options(runtime: Runtime[RunOptions] | None) -> RunOptions:
    ctx = runtime.context if runtime is not None else None
    return ctx if isinstance(ctx, RunOptions) else RunOptions()


def lock_owner(state: State) -> str:
    """Who holds the workspace lock for this run (its thread, else its run id): the writer,
    and the verify node while it puts the earlier tree back for a moment."""
    return str(get_config().get("configurable", {}).get("thread_id") or state["run_id"])


def held_to_server(node: StateNode) -> StateNode:
    """``node`` as a served graph runs it: with the run's options held to the server's
    limits (:func:`~phasegraph.graph.model.context.served_options`: a strict server's runs are
    strict, a timeout left at its default is lowered to the cap). Checked at every node, not
    only the planner, since a resumed run may come with a new context: one that would loosen
    a guard ends the run with an input failure."""

    async def held(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        try:
            opts = served_options(options(runtime))
        except InputRefused as exc:
            return {"failure": Failure(step=None, kind="input", error=str(exc))}
        return await node(state, runtime=runtime.override(context=opts))

    return held


def record(
    step: StepLike,
    phase: str,
    status: StepStatus,
    summary: str = "",
    *,
    started_at: float | None = None,
    ended_at: float | None = None,
) -> StepRecord:
    return StepRecord(
        id=step["id"],
        skill=step["skill"],
        phase=phase,
        status=status,
        summary=clip(redact(summary)),
        started_at=started_at,
        ended_at=ended_at,
    )


def emit(runtime: Runtime[RunOptions] | None, rec: StepRecord) -> None:
    """Stream one todo-list change (stream_mode="custom") for CLIs, notebooks and clients."""
    if runtime is not None:
        runtime.stream_writer(redact_data(step_event(rec)))


class StepOutcome:
    """What running a step gave: the record for the todo list, the result or the failure."""

    def __init__(
        self, rec: StepRecord, result: SkillResult | None, failure: Failure | None
    ) -> None:
        self.record = rec
        self.result = result
        self.failure = failure


@dataclass(frozen=True)
class StepRunner:
    """Runs plan steps for one orchestrator graph: bound once, handed to every node.

    It knows the graph's skills and where the run's records go: the run's LangGraph
    store, or, for a graph embedded in a parent that has none, a store of this graph's own
    (never a module-global one).
    """

    registry: SkillRegistry
    fallback_store: BaseStore = field(default_factory=InMemoryStore)
    #: Whether a verify's run after the writes may be got ready while its baseline runs
    #: (:meth:`ready`): not in a graph that pauses for approval between the two.
    start_ahead: bool = True
    #: Whether the graph is served: every step runs with the options held to the server's
    #: limits (a served run's context comes from a client, a resumed run's too).
    served: bool = False

    def run_options(self, runtime: Runtime[RunOptions] | None) -> RunOptions:
        """The options a step runs with; served, held to the server's limits (raises
        :class:`InputRefused` for a context that would loosen a guard)."""
        given = options(runtime)
        return served_options(given) if self.served else given

    def records(self, runtime: Runtime[RunOptions] | None, run_id: str) -> RunStore:
        """The run store of ``run_id``."""
        store = runtime.store if runtime is not None else None
        return RunStore(store if store is not None else self.fallback_store, run_id)

    def by_writes(self, step: StepLike) -> bool:
        """Whether ``step`` selects what it runs by the run's planned writes
        (:attr:`Skill.by_writes`: a targeted run_pytest)."""
        skill = self.registry.get(step["skill"])
        args = step.get("args") or {}
        return bool(
            skill and skill.by_writes and isinstance(args, Mapping) and skill.by_writes(args)
        )

    def narrowed(self, step: PlanStep, tests: list[str]) -> PlanStep | None:
        """``step`` run only for ``tests``, with its options (:attr:`Skill.narrowed`);
        ``None`` when its skill cannot narrow."""
        skill = self.registry.get(step["skill"])
        if skill is None or skill.narrowed is None:
            return None
        args = step.get("args") or {}
        return {**step, "args": skill.narrowed(args if isinstance(args, Mapping) else {}, tests)}

    async def planned_files(
        self, runtime: Runtime[RunOptions] | None, where: Mapping[str, Any]
    ) -> tuple[str, ...] | None:
        """The files the run's write steps target, from the run store, and any other file
        the writes that landed wrote; ``None`` while no write step is stored (not known yet).

        The same list before the writes (the baseline) and after them, as long as every
        write writes the files it names (the built-in ones do).
        """
        records = self.records(runtime, where["run_id"])
        steps = await records.write_steps()
        if not steps:
            return None
        workspace = Path(where["workspace"])
        files: list[str] = []
        for index, step in enumerate(steps):
            files += await asyncio.to_thread(target_files, step, self.registry, workspace)
            outcome = await records.write_outcome(index)
            files += outcome.get("written", []) if outcome else []
        return tuple(dict.fromkeys(files))

    async def ready(
        self, step: PlanStep, where: Mapping[str, Any], runtime: Runtime[RunOptions] | None
    ) -> None:
        """Get ``step``'s run after the writes ready now, while its baseline runs or is
        reused (:attr:`Skill.ahead`); not in a graph that pauses between the two. Best
        effort: whatever goes wrong here, that run starts cold."""
        skill = self.registry.get(step["skill"])
        if not self.start_ahead or skill is None or skill.ahead is None:
            return
        # Bad args, a skill's bug: the step's own run says what is wrong, not this.
        with contextlib.suppress(Exception):
            args = skill.parse_args(step.get("args", {}))
            await skill.ahead(args, step_context(step, where, self.run_options(runtime)))

    async def run(
        self,
        step: StepLike,
        where: Mapping[str, Any],
        runtime: Runtime[RunOptions] | None,
        *,
        failure_kind: FailureKind = "skill",
        run_files: tuple[str, ...] = (),
        store_output: bool = True,
        check: Callable[[SkillResult], str | None] | None = None,
        phase: str | None = None,
        selected_before: tuple[str, ...] | None = None,
        collect: bool = False,
    ) -> StepOutcome:
        """Run ``step`` through its skill with retries; emit running/done/failed events.

        ``where`` is the state (or fanned-out task) the step runs in: its ``workspace``,
        ``run_id`` and the project ``environment`` the skill runs code with. ``check`` may
        veto a result (returning why), which fails the step. ``phase`` names the row's
        phase when it is not the skill's kind (a verify's ``baseline`` run).
        ``selected_before``: what a targeted check's baseline ran
        (:attr:`SkillContext.selected_before`). ``collect``: list what the check would run
        (:attr:`Skill.collect`) instead of running it.
        """
        skill = self.registry.get(step["skill"])
        phase = phase or (skill.kind.value if skill else "?")
        started = time.time()
        emit(runtime, record(step, phase, "running", "", started_at=started))

        def failed(message: str, kind: FailureKind = failure_kind) -> StepOutcome:
            message = redact(message)
            rec = record(step, phase, "failed", message, started_at=started, ended_at=time.time())
            emit(runtime, rec)
            failure = Failure(step=step["id"], kind=kind, error=message)
            return StepOutcome(rec, None, failure)

        try:
            opts = self.run_options(runtime)
        except InputRefused as exc:
            return failed(str(exc), "input")
        if skill is None:
            return failed(f"unknown skill {step['skill']!r}")
        try:
            args = skill.parse_args(step.get("args", {}))
        except ValidationError as exc:
            return failed(describe_errors(exc, f"bad args for {skill.name}")[0])
        run = skill.collect if collect else skill.fn
        if run is None:
            return failed(f"{skill.name} cannot list what it would check")
        wants_writes = self.by_writes(step) or collect
        planned = await self.planned_files(runtime, where) if wants_writes else None
        ctx = step_context(
            step, where, opts, run_files=run_files, planned=planned, selected_before=selected_before
        )
        try:
            async for attempt in retrying(opts.retries):
                with attempt:
                    result = await run(args, ctx)
        except SkillError as exc:
            return failed(exc.message)
        except Exception as exc:  # a skill bug must still end in a report, not a crash
            return failed(f"{type(exc).__name__} in skill {skill.name}: {exc}")
        # A check reads the disk (the write's read-back): a worker thread, off the event loop.
        veto = await asyncio.to_thread(check, result) if check else None
        if veto:
            return failed(veto)
        rec = record(step, phase, "done", result.summary, started_at=started, ended_at=time.time())
        if store_output:
            # The row is kept with the output: a resumed run that finds both never runs the
            # step again, even when the crash came before LangGraph saved the task's result.
            output = {
                "summary": result.summary,
                "data": result.data,
                "findings": result.findings,
                "checked": result.checked,
                "record": rec,
            }
            await self.records(runtime, where["run_id"]).put_output(step["id"], output)
        emit(runtime, rec)
        return StepOutcome(rec, result, None)


def step_context(
    step: StepLike,
    where: Mapping[str, Any],
    opts: RunOptions,
    *,
    run_files: tuple[str, ...] = (),
    planned: tuple[str, ...] | None = None,
    selected_before: tuple[str, ...] | None = None,
) -> SkillContext:
    """The context ``step`` runs with, in the state (or task) ``where``."""
    return SkillContext(
        workspace=Path(where["workspace"]),
        step_id=step["id"],
        timeout=opts.step_timeout,
        run_files=run_files,
        allow_hosts=tuple(opts.allow_hosts),
        scrub_env=opts.scrub_env,
        python_env=PythonEnv.from_dict(where.get("environment")),
        run_id=where["run_id"],
        planned_files=planned,
        selected_before=selected_before,
    )
