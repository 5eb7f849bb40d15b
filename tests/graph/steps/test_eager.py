"""Eager jobs: a fixed call order after dependencies, and the first failure stops dispatch."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from phasegraph.graph.steps.eager import Job, Update, _in_order, merged, run_jobs


async def nothing() -> Update:
    return {}


def test_every_job_comes_after_its_dependencies_even_in_a_long_chain() -> None:
    chain = [Job(f"r{k}", nothing, [f"r{k - 1}"] if k else []) for k in range(2000)]
    order = [job.name for job in _in_order(chain[::-1])]
    assert order == [f"r{k}" for k in range(2000)]


class S(TypedDict, total=False):
    out: dict[str, Any]


async def test_the_first_failure_stops_what_has_not_started() -> None:
    started: list[str] = []

    def job(name: str, after: list[str], fails: bool = False) -> Job:
        async def run() -> Update:
            started.append(name)
            failure = {"step": name, "kind": "skill", "error": "no"} if fails else None
            return {"steps": {name: {"id": name}}, "failure": failure}

        return Job(name, run, after)

    async def node(state: S) -> dict[str, Any]:
        jobs = [job("a", [], fails=True), job("b", ["a"]), job("c", ["b"]), job("d", [])]
        return {"out": merged(await run_jobs(jobs, concurrency=1))}

    builder = StateGraph(S)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    result = await builder.compile().ainvoke({})

    assert result["out"]["failure"]["step"] == "a"
    assert "b" not in started and "c" not in started  # waiting on the failed one: never ran
    assert set(result["out"]["steps"]) == set(started)


def test_updates_merge_as_the_graph_state_merges_them() -> None:
    """One owner of how updates merge: the state's own reducers, every key of them."""
    out = merged(
        [
            {"failure": None, "written": ["a.py"], "written_sha": {"a.py": "1"}},
            {"failure": {"step": "x"}, "written": ["a.py", "b.py"], "created": ["b.py"]},
            {"failure": {"step": "y"}, "written_sha": {"b.py": "2"}, "steps": {"x": {"id": "x"}}},
        ]
    )

    assert out == {
        "failure": {"step": "x"},  # the first failure wins
        "written": ["a.py", "b.py"],  # no repeats
        "written_sha": {"a.py": "1", "b.py": "2"},
        "created": ["b.py"],
        "steps": {"x": {"id": "x"}},
    }
