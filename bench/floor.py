"""Bench 2: phasegraph's overhead against LangGraph's own floor for the same graph shape.

A fan-out of N no-op tasks (``Send``) and a chain of N serial no-op steps, run
once as a bare LangGraph graph and once as a phasegraph plan of no-op skills
(N reads; N writes). Prints one JSON line per shape and size with the medians
and the ratio phasegraph / floor. Target: ratio <= 1.5.
"""

from __future__ import annotations

import asyncio
import operator
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from common import emit, median_seconds, noop_registry, repeats, sizes
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from phasegraph import build_orchestrator, run_plan


class FanState(TypedDict, total=False):
    n: int
    done: Annotated[list[int], operator.add]


class ChainState(TypedDict, total=False):
    n: int
    i: int


def bare_fanout() -> Any:
    async def task(state: dict[str, int]) -> dict[str, list[int]]:
        return {"done": [state["k"]]}

    async def join(state: FanState) -> dict[str, Any]:
        return {}

    g = StateGraph(FanState)
    g.add_node("task", task)
    g.add_node("join", join)
    g.add_conditional_edges(
        START, lambda s: [Send("task", {"k": k}) for k in range(s["n"])], ["task"]
    )
    g.add_edge("task", "join")
    g.add_edge("join", END)
    return g.compile()


def bare_chain() -> Any:
    async def step(state: ChainState) -> dict[str, int]:
        return {"i": state.get("i", 0) + 1}

    g = StateGraph(ChainState)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: "step" if s["i"] < s["n"] else END, ["step", END])
    return g.compile()


def plan(kind: str, n: int) -> dict[str, Any]:
    if kind == "fanout":
        steps = [{"id": f"r{k}", "skill": "noop_read", "args": {"n": k}} for k in range(n)]
    else:
        steps = [
            {"id": f"w{k}", "skill": "noop_write", "args": {"path": f"f{k}"}} for k in range(n)
        ]
    return {"goal": f"{kind} of {n} no-ops", "steps": steps}


async def main(argv: list[str]) -> None:
    graph = build_orchestrator(noop_registry(), read_concurrency=10_000)
    workspace = Path(tempfile.mkdtemp(prefix="phasegraph-bench-"))
    reps = repeats(argv, 5)
    for n in sizes(argv, [10, 100, 500]):
        for kind, bare in (("fanout", bare_fanout()), ("chain", bare_chain())):
            limit = {"recursion_limit": 10 * n + 100}

            async def bare_run(b: Any = bare, size: int = n, cfg: Any = limit) -> Any:
                return await b.ainvoke({"n": size}, cfg)

            async def ours_run(k: str = kind, size: int = n) -> Any:
                return await run_plan(graph, plan(k, size), workspace)

            floor = await median_seconds(bare_run, reps)
            ours = await median_seconds(ours_run, reps)
            emit(
                {
                    "bench": "floor",
                    "shape": kind,
                    "n": n,
                    "floor_s": round(floor, 4),
                    "phasegraph_s": round(ours, 4),
                    "ratio": round(ours / floor, 2),
                    "target": 1.5,
                }
            )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
