"""Transient faults are retried a bounded number of times; permanent ones are not."""

from __future__ import annotations

from pathlib import Path

from phasegraph import (
    RunOptions,
    SkillArgs,
    SkillContext,
    SkillError,
    SkillRegistry,
    SkillResult,
    build_orchestrator,
    default_registry,
    run_plan,
)


class FlakyArgs(SkillArgs):
    fail_times: int
    transient: bool = True
    retried: bool = False


def flaky_registry(calls: list[int]) -> SkillRegistry:
    registry = default_registry()

    @registry.skill("flaky", kind="read", args=FlakyArgs)
    async def flaky(args: FlakyArgs, ctx: SkillContext) -> SkillResult:
        calls.append(1)
        if len(calls) <= args.fail_times:
            raise SkillError(
                f"attempt {len(calls)} failed", transient=args.transient, retried=args.retried
            )
        return SkillResult(summary=f"worked on attempt {len(calls)}")

    return registry


async def run_flaky(tmp_path: Path, retries: int = 3, **args: object) -> tuple[str, list[int], str]:
    calls: list[int] = []
    graph = build_orchestrator(flaky_registry(calls))
    plan = {"goal": "flaky", "steps": [{"id": "f", "skill": "flaky", "args": args}]}
    report = await run_plan(graph, plan, tmp_path, options=RunOptions(retries=retries))
    summary = report.steps[0].summary if report.steps else ""
    return report.status, calls, report.error or summary


async def test_a_transient_fault_is_retried_until_it_works(tmp_path: Path) -> None:
    status, calls, summary = await run_flaky(tmp_path, fail_times=2)
    assert status == "completed"
    assert len(calls) == 3
    assert summary == "worked on attempt 3"


async def test_retries_are_bounded(tmp_path: Path) -> None:
    status, calls, error = await run_flaky(tmp_path, retries=3, fail_times=10)
    assert status == "stopped"
    assert len(calls) == 3
    assert error == "attempt 3 failed"


async def test_a_permanent_fault_is_not_retried(tmp_path: Path) -> None:
    status, calls, _ = await run_flaky(tmp_path, fail_times=1, transient=False)
    assert status == "stopped"
    assert len(calls) == 1


async def test_a_skill_that_retried_itself_is_not_retried_again(tmp_path: Path) -> None:
    status, calls, _ = await run_flaky(tmp_path, fail_times=1, retried=True)
    assert status == "stopped"
    assert len(calls) == 1


def test_the_graph_draws_as_the_design_diagram() -> None:
    mermaid = build_orchestrator().get_graph(xray=True).draw_mermaid()
    for node in (
        "planner",
        "reads",
        "consolidate",
        "apply_write",
        "verify",
        "gate",
        "commit",
        "report",
        "stop_and_report",
    ):
        assert node in mermaid
