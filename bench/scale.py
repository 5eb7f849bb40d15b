"""Bench 3: plans of 10, 100 and 1000 steps with the SQLite checkpointer.

Each plan writes N small files (N serial write steps, each checkpointed before
the next). Prints, per size, the per-step time of the first and last 10% of
the writes (from the run's own step events) and the SQLite file's size, so the
growth can be read off: targets are last/first <= 1.2 and storage per step flat.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import emit, noop_registry, sizes

from phasegraph import build_orchestrator, run_plan
from phasegraph.graph.durable.persistence import open_persistence


def plan(n: int) -> dict[str, Any]:
    steps = [
        {"id": f"w{k}", "skill": "write_file", "args": {"path": f"f/{k}.txt", "content": f"{k}\n"}}
        for k in range(n)
    ]
    return {"goal": f"write {n} files", "steps": steps}


async def one(n: int) -> dict[str, Any]:
    workspace = Path(tempfile.mkdtemp(prefix="phasegraph-scale-"))
    db = workspace.parent / f"{workspace.name}.sqlite"
    ends: dict[str, float] = {}
    starts: dict[str, float] = {}

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "step" and event.get("phase") == "write":
            if event["status"] == "running":
                starts[event["id"]] = event["ts"]
            elif event["status"] == "done":
                ends[event["id"]] = event["ts"]

    async with open_persistence(str(db)) as (saver, store):
        graph = build_orchestrator(noop_registry(), checkpointer=saver, store=store)
        report = await run_plan(graph, plan(n), workspace, on_event=on_event)
    assert report.status == "completed", report.error
    order = [f"w{k}" for k in range(n)]
    # Time per write step, start to start: it includes the checkpoint saved between writes.
    gaps = [starts[b] - starts[a] for a, b in itertools.pairwise(order)]
    tenth = max(1, len(gaps) // 10)
    first, last = statistics.median(gaps[:tenth]), statistics.median(gaps[-tenth:])
    size = db.stat().st_size
    return {
        "bench": "scale",
        "steps": n,
        "first_10pct_s": round(first, 5),
        "last_10pct_s": round(last, 5),
        "ratio": round(last / first, 2),
        "target": 1.2,
        "db_bytes": size,
        "db_bytes_per_step": size // n,
    }


async def main(argv: list[str]) -> None:
    for n in sizes(argv, [10, 100, 1000]):
        emit(await one(n))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
