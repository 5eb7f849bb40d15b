"""Bench: the read phase runs each read the moment its own dependencies finish.

Two shapes, each measured from the first read's start to the last read's end (the run's
own step events), against what the shape allows:

- ``uneven``: A 100 ms and C 200 ms as roots, B 100 ms after A, D 10 ms after B. The
  critical path is 210 ms; a level-by-level schedule takes 310 ms. Target: at most 1.10 times.
- ``independent``: N reads of 50 ms each, against ``asyncio.gather`` of the same sleeps
  measured in the same run. Target: at most 1.3 times.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import emit, repeats, sizes

from phasegraph import SkillArgs, SkillContext, SkillResult, build_orchestrator, run_plan
from phasegraph.skills.registry import SkillRegistry, default_registry


class SleepArgs(SkillArgs):
    ms: int


def registry() -> SkillRegistry:
    reg = default_registry()

    @reg.skill("sleep_read", kind="read", args=SleepArgs)
    async def sleep_read(args: SleepArgs, ctx: SkillContext) -> SkillResult:
        await asyncio.sleep(args.ms / 1000)
        return SkillResult(summary=f"slept {args.ms} ms")

    return reg


def read(step_id: str, ms: int, after: list[str] | None = None) -> dict[str, Any]:
    return {"id": step_id, "skill": "sleep_read", "args": {"ms": ms}, "after": after or []}


UNEVEN = [read("A", 100), read("C", 200), read("B", 100, ["A"]), read("D", 10, ["B"])]


async def read_span(steps: list[dict[str, Any]], concurrency: int) -> float:
    """Seconds from the first read's start to the last read's end, in one run."""
    starts: list[float] = []
    ends: list[float] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "step" and event.get("phase") == "read":
            (starts if event["status"] == "running" else ends).append(event["ts"])

    graph = build_orchestrator(registry(), read_concurrency=concurrency)
    workspace = Path(tempfile.mkdtemp(prefix="phasegraph-eager-"))
    plan = {"goal": "read", "steps": steps}
    report = await run_plan(graph, plan, workspace, on_event=on_event)
    assert report.status == "completed", report.error
    return max(ends) - min(starts)


async def gather_span(n: int, ms: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(asyncio.sleep(ms / 1000) for _ in range(n)))
    return time.perf_counter() - start


async def main() -> None:
    runs = repeats(sys.argv, 5)
    uneven = statistics.median([await read_span(UNEVEN, 8) for _ in range(runs)])
    emit(
        {
            "bench": "eager_reads",
            "shape": "uneven",
            "span_s": round(uneven, 4),
            "critical_path_s": 0.21,
            "level_by_level_s": 0.31,
            "ratio": round(uneven / 0.21, 3),
            "target": 1.10,
        }
    )
    for n in sizes(sys.argv, [100]):
        steps = [read(f"r{k}", 50) for k in range(n)]
        ours = statistics.median([await read_span(steps, n) for _ in range(runs)])
        floor = statistics.median([await gather_span(n, 50) for _ in range(runs)])
        emit(
            {
                "bench": "eager_reads",
                "shape": "independent",
                "reads": n,
                "span_s": round(ours, 4),
                "gather_s": round(floor, 4),
                "ratio": round(ours / floor, 3),
                "target": 1.3,
            }
        )


if __name__ == "__main__":
    asyncio.run(main())
