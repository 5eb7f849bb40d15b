"""phasegraph inside an agent stack: as a ReAct agent's tool, and as a node of a parent graph."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel
from support.repos import git, require_program

from phasegraph import Report, as_tool, build_orchestrator, default_registry, skills_as_tools

MakeRepo = Callable[[dict[str, str]], Path]

LIB = "def greet(name: str) -> str:\n    return 'hello ' + name\n"


class ScriptedChatModel(GenericFakeChatModel):
    """A fake chat model that replies from a script and accepts any tools bound to it."""

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def scripted(*replies: AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(replies))


def greeting_plan() -> dict[str, Any]:
    return {
        "goal": "greet with hi",
        "steps": [
            {"id": "find", "skill": "rg_search", "args": {"pattern": "hello"}},
            {
                "id": "edit",
                "skill": "edit_block",
                "args": {"path": "lib.py", "search": "'hello '", "replace": "'hi '"},
            },
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Greet with hi"}},
        ],
    }


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg"):
        require_program(name)


def tool_messages(messages: list[AnyMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


async def test_a_react_agent_runs_a_plan_through_the_tool_and_reads_the_report(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    call = {"name": "phasegraph", "args": {"plan": greeting_plan(), "workspace": str(repo)}}
    model = scripted(
        AIMessage("", tool_calls=[{**call, "id": "call-1", "type": "tool_call"}]),
        AIMessage("Done: the greeting now says hi."),
    )
    agent = create_agent(model, tools=[as_tool()])

    result = await agent.ainvoke({"messages": [HumanMessage("Make greet say hi")]})

    (answer,) = tool_messages(result["messages"])
    report = json.loads(str(answer.content))
    assert report["status"] == "completed"
    assert isinstance(answer.artifact, Report)
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert (repo / "lib.py").read_text() == LIB.replace("hello", "hi")
    assert result["messages"][-1].content == "Done: the greeting now says hi."


async def test_the_agent_reads_a_stop_report_and_a_bad_call_as_errors_it_can_act_on(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"lib.py": LIB})
    bad_edit = greeting_plan()
    bad_edit["steps"][1]["args"]["search"] = "'howdy '"
    tool = as_tool(workspace=repo)  # pinned: the agent cannot pick another repository
    schema = tool.get_input_schema()
    assert issubclass(schema, BaseModel)  # pydantic 2, not a pydantic.v1 model
    assert "workspace" not in schema.model_json_schema()["properties"]
    model = scripted(
        AIMessage("", tool_calls=[{"name": "phasegraph", "args": {"plan": bad_edit}, "id": "a"}]),
        AIMessage("", tool_calls=[{"name": "phasegraph", "args": {"plan": {}}, "id": "b"}]),
        AIMessage("I could not make the change."),
    )
    agent = create_agent(model, tools=[tool])

    result = await agent.ainvoke({"messages": [HumanMessage("Make greet say hi")]})

    stopped, invalid = tool_messages(result["messages"])
    report = json.loads(str(stopped.content))
    # Refused before anything ran; the error names the step and quotes its search text.
    assert (report["status"], report["failure_kind"]) == ("stopped", "preflight")
    assert "step 'edit': search text \"'howdy '\" not found in 'lib.py'" in report["error"]
    assert invalid.status == "error"
    assert "goal" in str(invalid.content)
    assert (repo / "lib.py").read_text() == LIB
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


async def test_an_agent_can_use_our_read_skills_as_tools(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    tools: list[BaseTool] = list(skills_as_tools(default_registry(), repo))
    call = {"name": "rg_search", "args": {"pattern": "hello"}, "id": "s1", "type": "tool_call"}
    model = scripted(AIMessage("", tool_calls=[call]), AIMessage("found it"))
    agent = create_agent(model, tools=tools)

    result = await agent.ainvoke({"messages": [HumanMessage("where is hello?")]})

    (found,) = tool_messages(result["messages"])
    assert "lib.py" in str(found.content)


class Parent(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    workspace: str
    plan: dict[str, Any]
    report: dict[str, Any]


async def test_the_orchestrator_is_a_node_of_a_parent_graph(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    planner = scripted(AIMessage(json.dumps(greeting_plan())))

    async def propose(state: Parent) -> dict[str, Any]:
        reply = await planner.ainvoke(state["messages"])
        return {"messages": [reply], "plan": json.loads(str(reply.content))}

    async def summarize(state: Parent) -> dict[str, Any]:
        report = state["report"]
        return {"messages": [AIMessage(f"{report['status']}: {report['commit']}")]}

    builder = StateGraph(Parent)
    builder.add_node("propose", propose)
    builder.add_node("orchestrate", build_orchestrator())
    builder.add_node("summarize", summarize)
    builder.add_edge(START, "propose")
    builder.add_edge("propose", "orchestrate")
    builder.add_edge("orchestrate", "summarize")
    builder.add_edge("summarize", END)
    parent = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "parent-1"}}

    step_events: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    async for namespace, mode, chunk in parent.astream(
        {"messages": [HumanMessage("greet with hi")], "workspace": str(repo)},
        config,
        stream_mode=["custom", "values"],
        subgraphs=True,
    ):
        if mode == "custom":
            assert isinstance(namespace, tuple) and isinstance(chunk, dict)
            if chunk.get("event") == "step":
                step_events.append((namespace, chunk))

    final = (await parent.aget_state(config)).values
    head = git(repo, "rev-parse", "HEAD").strip()
    assert final["report"]["status"] == "completed"
    assert final["messages"][-1].content == f"completed: {head}"
    assert (repo / "lib.py").read_text() == LIB.replace("hello", "hi")
    # The todo list streams through the parent, tagged with the orchestrator's namespace.
    done = {e["id"] for ns, e in step_events if e["status"] == "done"}
    assert done == {"find", "edit", "commit"}
    assert all(ns and ns[0].startswith("orchestrate") for ns, _ in step_events)


def test_the_tool_works_from_synchronous_code_too(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    content = as_tool().invoke({"plan": greeting_plan(), "workspace": str(repo)})
    report = json.loads(content)
    assert report["status"] == "completed"
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
