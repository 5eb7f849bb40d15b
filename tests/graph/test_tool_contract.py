"""The orchestration tool's contract with a model: a typed plan and the recipes in what it is
shown, ``request`` only where a model plans it, every bad input a report it can read, a stopped
run an ``error`` ToolMessage that keeps the report, the tree put back for a retry, an undo."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from support.repos import git, require_program, snapshot

from phasegraph import Report, RunOptions, build_orchestrator, run_plan
from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.tool import as_tool
from phasegraph.graph.undo_tool import as_undo_tool

MakeRepo = Callable[[dict[str, str]], Path]

LIB = "def greet(name: str) -> str:\n    return 'hello ' + name\n"
TEST = (
    "from lib import greet\n\n\ndef test_greet() -> None:\n    assert greet('bob') == 'hello bob'\n"
)


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg"):
        require_program(name)


def greeting(*, tests: bool = True) -> dict[str, Any]:
    """Make greet say hi: with ``tests``, the plan runs pytest, which the edit breaks."""
    steps: list[dict[str, Any]] = [
        {
            "id": "edit",
            "skill": "edit_block",
            "args": {"path": "lib.py", "search": "'hello '", "replace": "'hi '"},
        },
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Greet with hi"}},
    ]
    if tests:
        steps.insert(1, {"id": "tests", "skill": "run_pytest", "args": {}})
    return {"goal": "greet with hi", "steps": steps}


async def call(tool: BaseTool, **args: Any) -> ToolMessage:
    """``tool`` called as a model calls it: a tool call, answered by a ToolMessage."""
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}
    )
    assert isinstance(message, ToolMessage)
    return message


def report_of(message: ToolMessage) -> dict[str, Any]:
    data = json.loads(str(message.content))
    assert isinstance(data, dict)
    return data


def openai_schema(tool: BaseTool) -> dict[str, Any]:
    function: dict[str, Any] = convert_to_openai_tool(tool)["function"]
    return function


# --- 1. what the model is shown --------------------------------------------------------


def test_the_model_is_shown_a_typed_plan_each_skills_args_and_the_recipes() -> None:
    shown = openai_schema(as_tool())
    plan = shown["parameters"]["properties"]["plan"]

    steps = {
        b["properties"]["skill"]["const"]: b for b in plan["properties"]["steps"]["items"]["anyOf"]
    }
    assert steps["edit_block"]["properties"]["args"]["required"] == ["path", "search", "replace"]
    rename = plan["properties"]["recipe"]["anyOf"][0]
    assert rename["properties"]["name"]["const"] == "rename"
    assert shown["parameters"]["required"] == ["workspace"]
    # The description lists them too, typed, for a model that reads text.
    text = shown["description"]
    assert "edit_block(path: string, search: string, replace: string) [write]" in text
    assert "rename(old: string, new: string" in text
    assert "put the tree back" in text


def test_a_pinned_tool_asks_for_no_workspace_and_keep_is_said_in_the_description() -> None:
    shown = openai_schema(as_tool(workspace="/somewhere", on_stop="keep"))
    assert sorted(shown["parameters"]["properties"]) == ["plan"]
    assert "leaves its writes in the tree" in shown["description"]


# --- 2. request, only where a model plans it --------------------------------------------


def test_request_is_offered_only_where_a_model_can_plan_it() -> None:
    def offered(tool: BaseTool) -> bool:
        shown = openai_schema(tool)
        return "request" in shown["parameters"]["properties"] and "request" in shown["description"]

    model = GenericFakeChatModel(messages=iter([]))
    assert not offered(as_tool())
    assert not offered(as_tool(build_orchestrator()))
    assert offered(as_tool(model=model))
    assert offered(as_tool(options=RunOptions(model="openai:gpt-4.1")))
    assert offered(as_tool(build_orchestrator(model=model), requests=True))
    with pytest.raises(ValueError, match="build_orchestrator"):
        as_tool(build_orchestrator(), model=model)


async def test_a_request_to_a_tool_without_a_model_is_a_report_saying_send_a_plan(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    answer = await call(as_tool(), request="make greet say hi", workspace=str(repo))

    assert answer.status == "error"
    report = report_of(answer)
    assert (report["status"], report["failure_kind"]) == ("stopped", "input")
    assert "runs plans, not requests" in report["error"] and '"goal"' in report["error"]


# --- 3. every input, good or bad, gets a report -----------------------------------------


async def test_a_plan_sent_as_a_json_string_is_parsed_and_runs(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    tool = as_tool()

    answer = await call(tool, plan=json.dumps(greeting(tests=False)), workspace=str(repo))

    assert answer.status == "success"
    assert report_of(answer)["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert (repo / "lib.py").read_text() == LIB.replace("hello", "hi")

    # Encoded twice (a model that serialised its JSON once more): parsed twice.
    back: dict[str, Any] = {"goal": "back to hello", "steps": [greeting(tests=False)["steps"][0]]}
    back["steps"][0]["args"] = {"path": "lib.py", "search": "'hi '", "replace": "'hello '"}
    answer = await call(tool, plan=json.dumps(json.dumps(back)), workspace=str(repo))
    assert answer.status == "success", answer.content
    assert (repo / "lib.py").read_text() == LIB


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ({"plan": '{"goal": "x", "steps": ['}, "plan: a string that is not JSON"),
        ({"plan": [1, 2]}, "plan must be a mapping"),
        ({"plan": "[1, 2]"}, "plan must be a mapping"),
        ({"plan": {"goal": "g", "steps": "edit"}}, "steps"),
        ({"plan": {"goal": "g", "steps": [7, None]}}, "step #1"),
        ({"goal": "g", "steps": []}, "'goal', 'steps' given beside 'plan', not inside it"),
        ({"plan": {"goal": "g"}, "dry_run": True}, "unknown argument(s) 'dry_run'"),
        ({}, "give a plan"),
        ({"plan": "   "}, "give a plan"),
        ({"plan": {"goal": "g"}, "workspace": 5}, "give the workspace"),
        ({"plan": {"goal": "g"}, "workspace": None}, "give the workspace"),
        ({"plan": {"goal": "g"}, "workspace": "/no/such/repository"}, "/no/such/repository"),
    ],
)
async def test_every_bad_input_is_a_report_the_model_can_read(
    make_repo: MakeRepo, args: dict[str, Any], said: str
) -> None:
    repo = make_repo({"lib.py": LIB})
    before = snapshot(repo)

    answer = await call(as_tool(), **{"workspace": str(repo), **args})

    assert answer.status == "error"
    report = report_of(answer)
    assert report["status"] == "stopped", report
    assert report["failure_kind"] in ("input", "preflight"), report
    assert said in report["error"], report["error"]
    assert "Traceback" not in str(answer.content)
    assert snapshot(repo) == before


async def test_a_call_the_schema_refuses_is_a_report_too() -> None:
    answer = await call(as_tool(), plan={"goal": "g"})  # no workspace at all

    assert answer.status == "error"
    report = report_of(answer)
    assert report["status"] == "stopped"
    assert "workspace" in report["error"] and '"plan"' in report["error"]


async def test_a_plan_that_is_not_a_mapping_ends_in_a_report_from_the_library_too(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    for plan in ([1, 2], "plan", 3, {"goal": "g", "steps": "edit"}, {"goal": ["g"], "steps": [1]}):
        report = await run_plan(build_orchestrator(), plan, repo)  # type: ignore[arg-type]
        assert (report.status, report.failure_kind) == ("stopped", "input"), plan


# --- 4 and 5. a stopped run: an error that keeps the report, and the tree put back --------


async def test_a_stopped_run_is_an_error_message_with_the_report_and_the_tree_as_it_was(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB, "test_lib.py": TEST})
    before = snapshot(repo)

    answer = await call(as_tool(), plan=greeting(), workspace=str(repo))

    assert answer.status == "error"
    assert isinstance(answer.artifact, Report)
    report = report_of(answer)
    assert report == json.loads(answer.artifact.model_dump_json(exclude_defaults=True))
    assert (report["failure_kind"], report["failed_step"]) == ("gate", "tests")
    assert "test_lib.py::test_greet" in report["error"]
    (finding,) = report["new_findings"]["tests"]
    assert "'hi bob' == 'hello bob'" in finding["detail"]
    assert "+    return 'hi ' + name" in report["diff"]
    # Restored by default: the agent may send the corrected plan at once.
    assert report["restored"] is True
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == ""


def test_a_stopped_run_is_an_error_from_synchronous_code_too(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB, "test_lib.py": TEST})
    tool_call = {"type": "tool_call", "id": "sync-1", "name": "phasegraph", "args": {}}
    tool_call["args"] = {"plan": greeting(), "workspace": str(repo)}

    answer = as_tool().invoke(tool_call)

    assert isinstance(answer, ToolMessage)
    assert (answer.status, answer.tool_call_id) == ("error", "sync-1")
    assert isinstance(answer.artifact, Report) and answer.artifact.restored


async def test_keep_leaves_the_writes_for_a_person_and_the_undo_tool_puts_them_back(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB, "test_lib.py": TEST})
    before = snapshot(repo)

    stopped = report_of(await call(as_tool(on_stop="keep"), plan=greeting(), workspace=str(repo)))

    assert "restored" not in stopped  # False: left out of the content, as every default
    assert (repo / "lib.py").read_text() == LIB.replace("hello", "hi")
    undone = await call(as_undo_tool(repo), run_id=stopped["run_id"])
    assert undone.status == "success", undone.content
    assert json.loads(str(undone.content))["restored"] == ["lib.py"]
    assert snapshot(repo) == before

    again = await call(as_undo_tool(repo), run_id=stopped["run_id"])
    assert json.loads(str(again.content))["nothing_to_undo"] is True


async def test_the_undo_tool_tells_an_unknown_run_and_a_missing_workspace(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    unknown = await call(as_undo_tool(), run_id="f" * 32, workspace=str(repo))
    assert unknown.status == "error"
    assert "was not undone" in str(unknown.content) and "no run" in str(unknown.content)

    shown = openai_schema(as_undo_tool(repo))
    assert shown["parameters"]["required"] == ["run_id"]
    assert "workspace" not in shown["parameters"]["properties"]


async def test_a_run_that_pauses_or_finds_the_workspace_busy_is_a_report(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    write = {
        "goal": "a file",
        "steps": [{"id": "w", "skill": "write_file", "args": {"path": "a.txt", "content": "a\n"}}],
    }

    paused = await call(
        as_tool(build_orchestrator(approve_writes=True)), plan=write, workspace=str(repo)
    )
    report = report_of(paused)
    assert (paused.status, report["failure_kind"]) == ("error", "paused")
    assert report["thread"] and "on_interrupt" in report["error"]

    async with hold_workspace(repo.resolve(), "someone else"):
        busy = await call(as_tool(), plan=write, workspace=str(repo))
    report = report_of(busy)
    assert (busy.status, report["failure_kind"]) == ("error", "busy")
    assert "nothing was run" in report["error"]
    assert not (repo / "a.txt").exists()


async def test_a_completed_run_is_a_success_with_the_report_as_artifact(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    answer = await call(as_tool(), plan=greeting(tests=False), workspace=str(repo))

    assert answer.status == "success"
    assert isinstance(answer.artifact, Report) and answer.artifact.status == "completed"
    assert report_of(answer)["run_id"] == answer.artifact.run_id
    # A reply a model can act on, without the noise of every empty field.
    assert "preexisting" not in report_of(answer)
