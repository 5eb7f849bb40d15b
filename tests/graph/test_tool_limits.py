"""A plan's size never runs into LangGraph's recursion limit, whichever way the graph is run:
as an agent's tool (whose config carries the agent's own limit), or invoked directly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from langgraph.errors import GraphRecursionError
from support.llm import BASE_URL, completion, tool_completion
from support.repos import require_program, snapshot

from phasegraph import as_tool, build_orchestrator

MakeRepo = Callable[[dict[str, str]], Path]

WRITES = 32


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def many_writes(count: int = WRITES) -> dict[str, Any]:
    return {
        "goal": f"{count} new files",
        "steps": [
            {
                "id": f"w{i}",
                "skill": "write_file",
                "args": {"path": f"f{i}.txt", "content": f"{i}\n"},
            }
            for i in range(count)
        ],
    }


def landed(repo: Path) -> int:
    return len(list(repo.glob("f*.txt")))


@pytest.fixture
def endpoint() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock.post("/chat/completions")


async def test_an_agent_with_the_usual_limit_runs_a_long_plan_through_the_tool(
    make_repo: MakeRepo, endpoint: respx.Route
) -> None:
    repo = make_repo({"README": "r\n"})
    endpoint.side_effect = [
        tool_completion("phasegraph", {"plan": many_writes(), "workspace": str(repo)}),
        completion("All files are written."),
    ]
    model = ChatOpenAI(
        model="test-model",
        base_url=BASE_URL,
        api_key="test",
        max_retries=0,
        http_async_client=httpx.AsyncClient(),
    )
    agent = create_agent(model, tools=[as_tool()])

    # 25: the limit agents are commonly run with; it reaches the tool through the config.
    result = await agent.ainvoke(
        {"messages": [HumanMessage("write them")]}, {"recursion_limit": 25}
    )

    (answer,) = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert json.loads(str(answer.content))["status"] == "completed"
    assert landed(repo) == WRITES
    assert result["messages"][-1].content == "All files are written."


async def test_a_plain_ainvoke_without_a_config_runs_a_long_plan(make_repo: MakeRepo) -> None:
    repo = make_repo({"README": "r\n"})
    final = await build_orchestrator().ainvoke({"plan": many_writes(), "workspace": str(repo)})
    assert final["report"]["status"] == "completed"
    assert landed(repo) == WRITES


async def test_the_writes_do_not_count_against_a_callers_limit(make_repo: MakeRepo) -> None:
    repo = make_repo({"README": "r\n"})
    final = await build_orchestrator().ainvoke(
        {"plan": many_writes(), "workspace": str(repo)}, {"recursion_limit": 25}
    )
    assert final["report"]["status"] == "completed"
    assert landed(repo) == WRITES


async def test_a_limit_too_small_for_the_graph_itself_is_respected_before_any_write(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"README": "r\n"})
    before = snapshot(repo)
    with pytest.raises(GraphRecursionError, match="recursion_limit"):
        await build_orchestrator().ainvoke(
            {"plan": many_writes(), "workspace": str(repo)}, {"recursion_limit": 2}
        )
    assert snapshot(repo) == before
