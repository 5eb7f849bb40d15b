"""phasegraph inside an agent stack: as a ReAct agent's tool (the retry loop an agent lives in:
try, read why it failed, try again; undo), and as a node of a parent graph."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel
from support.repos import git, require_program, snapshot

from phasegraph import Report, as_tool, build_orchestrator, default_registry, skills_as_tools
from phasegraph.graph.undo_tool import as_undo_tool

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


class ReadingChatModel(BaseChatModel):
    """A fake chat model whose reply is worked out from the conversation so far, as a model
    would: ``respond`` reads the messages (the tool's answers) and writes the next one."""

    respond: Callable[[list[BaseMessage]], AIMessage]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.respond(messages))])

    @property
    def _llm_type(self) -> str:
        return "reading-fake"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def tool_call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(
        "", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


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


TEST = (
    "from lib import greet\n\n\ndef test_greet() -> None:\n    assert greet('bob') == 'hello bob'\n"
)


def fixed_after(report: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """What a model makes of a red gate's report: the failing test and what its assertion
    saw, so the test's expectation follows the change (an edit added before the checks)."""
    (failing,) = report["new_findings"]["tests"]
    test_file = failing["finding"].split("::")[0]
    got, expected = re.search(r"assert ('.*?') == ('.*?')", failing["detail"]).groups()  # type: ignore[union-attr]
    fix = {
        "id": "fix-test",
        "skill": "edit_block",
        "args": {"path": test_file, "search": expected, "replace": got},
    }
    return {**plan, "steps": [plan["steps"][0], fix, *plan["steps"][1:]]}


async def test_an_agent_retries_after_a_red_gate_from_the_report_and_another_undoes_the_run(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB, "test_lib.py": TEST})
    before = snapshot(repo)
    plan = {
        "goal": "greet with hi",
        "steps": [
            {
                "id": "edit",
                "skill": "edit_block",
                "args": {"path": "lib.py", "search": "'hello '", "replace": "'hi '"},
            },
            {"id": "tests", "skill": "run_pytest", "args": {}},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Greet with hi"}},
        ],
    }
    read: list[tuple[ToolMessage, dict[str, bytes]]] = []  # each answer, and the tree then

    def respond(messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, HumanMessage):
            return tool_call("phasegraph", {"plan": plan}, "try-1")
        assert isinstance(last, ToolMessage)
        read.append((last, snapshot(repo)))
        report = json.loads(str(last.content))
        if last.status == "error":
            return tool_call("phasegraph", {"plan": fixed_after(report, plan)}, "try-2")
        return AIMessage(f"Done in run {report['run_id']}: commit {report['commit']}.")

    agent = create_agent(ReadingChatModel(respond=respond), tools=[as_tool(workspace=repo)])
    result = await agent.ainvoke({"messages": [HumanMessage("Make greet say hi")]})

    (blocked, tree_then), (committed, _) = read
    # The first answer: an error naming the failing test, the tree already as it was.
    assert blocked.status == "error"
    assert "test_lib.py::test_greet" in str(blocked.content)
    assert tree_then == before
    # The second: the corrected plan, committed, with no step in between.
    report = json.loads(str(committed.content))
    assert (committed.status, report["status"]) == ("success", "completed")
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "test_lib.py").read_text() == TEST.replace("hello bob", "hi bob")
    assert result["messages"][-1].content.startswith(f"Done in run {report['run_id']}")

    # Another agent undoes that run through the undo tool, by the run id the report gave.
    undoer = scripted(
        tool_call("phasegraph_undo", {"run_id": report["run_id"]}, "undo-1"), AIMessage("Undone.")
    )
    other = create_agent(undoer, tools=[as_undo_tool(repo)])
    result = await other.ainvoke({"messages": [HumanMessage(f"Undo run {report['run_id']}")]})

    (undone,) = tool_messages(result["messages"])
    assert undone.status == "success", undone.content
    done = json.loads(str(undone.content))
    assert sorted(done["restored"]) == ["lib.py", "test_lib.py"]
    assert done["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "log", "-1", "--format=%s").strip() == 'Revert "Greet with hi"'
    assert snapshot(repo) == before


@pytest.mark.parametrize("subgraphs", [False, True])
async def test_the_todo_list_reaches_the_agents_stream_while_the_tool_runs(
    make_repo: MakeRepo, subgraphs: bool
) -> None:
    repo = make_repo({"lib.py": LIB})
    model = scripted(
        tool_call("phasegraph", {"plan": greeting_plan(), "workspace": str(repo)}, "c1"),
        AIMessage("done"),
    )
    agent = create_agent(model, tools=[as_tool()])

    seen: list[tuple[str, dict[str, Any]]] = []
    async for item in agent.astream(
        {"messages": [HumanMessage("greet with hi")]},
        stream_mode=["custom", "updates"],
        subgraphs=subgraphs,
    ):
        _, mode, chunk = item if subgraphs else ((), *item)
        assert isinstance(chunk, dict)
        if mode == "custom":
            seen.append(("event", chunk))
        elif "tools" in chunk:
            seen.append(("answer", chunk))

    answered = [kind for kind, _ in seen].index("answer")
    events = [chunk for _, chunk in seen[:answered]]  # live: all of them before the answer
    steps = [(e["id"], e["status"]) for e in events if e.get("event") == "step"]
    assert len(steps) == len(set(steps))  # each once, with subgraphs too
    for step in ("find", "edit", "commit"):
        assert steps.index((step, "running")) < steps.index((step, "done"))
    assert steps.index(("edit", "done")) < steps.index(("commit", "running"))
    assert events[-1]["event"] == "run" and events[-1]["status"] == "completed"
    assert all(kind == "event" for kind, _ in seen[:answered])


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
            if chunk.get("event") in ("step", "run"):
                step_events.append((namespace, chunk))

    final = (await parent.aget_state(config)).values
    head = git(repo, "rev-parse", "HEAD").strip()
    assert final["report"]["status"] == "completed"
    assert final["messages"][-1].content == f"completed: {head}"
    assert (repo / "lib.py").read_text() == LIB.replace("hello", "hi")
    # The todo list streams through the parent, tagged with the orchestrator's namespace.
    done = {e["id"] for ns, e in step_events if e["event"] == "step" and e["status"] == "done"}
    assert done == {"find", "edit", "commit"}
    ended = step_events[-1][1]  # then the run's end, with its report
    assert (ended["event"], ended["report"]["commit"]) == ("run", head)
    assert all(ns and ns[0].startswith("orchestrate") for ns, _ in step_events)


def test_the_tool_works_from_synchronous_code_too(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    content = as_tool().invoke({"plan": greeting_plan(), "workspace": str(repo)})
    report = json.loads(content)
    assert report["status"] == "completed"
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
