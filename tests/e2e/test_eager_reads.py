"""The read phase: each read starts when its own dependencies end, and each is durable."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from durable_helpers import cli
from testkit import init_repo, require_program

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
