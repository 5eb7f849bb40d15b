"""The read phase: each read starts when its own dependencies end, and each is durable."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.durable import cli
from support.repos import init_repo, require_program

from phasegraph import (
    SkillArgs,
    SkillContext,
    SkillResult,
    build_orchestrator,
    default_registry,
    run_plan,
)

FILES = {"a.py": "A = 1\n", "b.py": "B = 2\n", "c.py": "C = 3\n"}


def read(step_id: str, path: str, after: list[str] | None = None) -> dict[str, Any]:
    return {"id": step_id, "skill": "read_file", "args": {"path": path}, "after": after or []}


PLAN = {
    "goal": "read three files, the last after the first two",
    "steps": [
        read("first", "a.py"),
        read("second", "b.py"),
        read("last", "c.py", ["first", "second"]),
        {"id": "w", "skill": "write_file", "args": {"path": "d.py", "content": "D = 4\n"}},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Add d"}},
    ],
}


def started(stdout: str) -> list[str]:
    """The reads a run started, from its ``--json`` event lines."""
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [
        e["id"]
        for e in events
        if e.get("event") == "step" and e.get("phase") == "read" and e["status"] == "running"
    ]


def test_a_resume_reruns_only_the_reads_that_had_not_finished(tmp_path: Path) -> None:
    require_program("git")
    repo = init_repo(tmp_path / "repo", FILES)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    killed = cli(
        "run", str(plan), "-w", str(repo), "--thread", "t1", "--json",
        env={"PHASEGRAPH_FAILPOINT": "read:last"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert sorted(started(killed.stdout)) == ["first", "second"]

    resumed = cli("resume", "t1", "-w", str(repo), "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert started(resumed.stdout) == ["last"]  # first and second come from the checkpoint
    assert (repo / "d.py").read_text() == "D = 4\n"


class SleepArgs(SkillArgs):
    seconds: float


async def test_a_read_starts_when_its_own_dependencies_end_not_its_level(tmp_path: Path) -> None:
    """C (slow) and A (quick) are roots, B waits for A only: B runs while C still runs."""
    registry = default_registry()

    @registry.skill("sleep_read", kind="read", args=SleepArgs)
    async def sleep_read(args: SleepArgs, ctx: SkillContext) -> SkillResult:
        await asyncio.sleep(args.seconds)
        return SkillResult(summary=f"slept {args.seconds} s")

    def nap(step_id: str, seconds: float, after: list[str] | None = None) -> dict[str, Any]:
        return {"id": step_id, "skill": "sleep_read", "args": {"seconds": seconds},
                "after": after or []}  # fmt: skip

    plan = {"goal": "uneven", "steps": [nap("A", 0.01), nap("C", 2.0), nap("B", 0.01, ["A"])]}
    order: list[tuple[str, str]] = []

    def on_event(event: Mapping[str, Any]) -> None:
        if event.get("event") == "step" and event["status"] in ("running", "done"):
            order.append((event["id"], event["status"]))

    report = await run_plan(build_orchestrator(registry), plan, tmp_path, on_event=on_event)
    assert report.status == "completed", report.error
    assert order.index(("B", "done")) < order.index(("C", "done"))


class Busy:
    """How many steps run at once, at most, as the steps themselves see it."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    async def nap(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.05)
        self.now -= 1


@pytest.mark.parametrize("bound", [1, 2, 3])
async def test_read_concurrency_bounds_the_reads_and_the_checks_exactly(
    tmp_path: Path, bound: int
) -> None:
    """``read_concurrency=N``: N reads (and N checks) run at once, never more, never fewer
    (a bound of 1 used to hang: LangGraph counted the read node itself against it)."""
    registry = default_registry()
    reads, checks = Busy(), Busy()

    @registry.skill("busy_read", kind="read", args=SkillArgs)
    async def busy_read(args: SkillArgs, ctx: SkillContext) -> SkillResult:
        await reads.nap()
        return SkillResult(summary="read")

    @registry.skill("busy_check", kind="verify", args=SkillArgs)
    async def busy_check(args: SkillArgs, ctx: SkillContext) -> SkillResult:
        await checks.nap()
        return SkillResult(summary="checked")

    steps: list[dict[str, Any]] = [{"id": f"r{k}", "skill": "busy_read"} for k in range(5)]
    steps += [{"id": "w", "skill": "write_file", "args": {"path": "d.py", "content": "D = 4\n"}}]
    steps += [{"id": f"v{k}", "skill": "busy_check"} for k in range(5)]
    graph = build_orchestrator(registry, read_concurrency=bound)
    plan = {"goal": "bounded", "steps": steps}
    report = await asyncio.wait_for(run_plan(graph, plan, tmp_path), timeout=60)
    assert report.status == "completed", report.error
    assert (reads.most, checks.most) == (bound, bound)
