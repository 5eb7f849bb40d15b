"""LangChain tools with a declared kind run as plan steps; our skills run as LangChain tools."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException, tool
from support.repos import git, require_program

from phasegraph import (
    RunOptions,
    SkillKind,
    SkillResult,
    build_orchestrator,
    default_registry,
    run_plan,
    skill_from_tool,
    skills_as_tools,
    validate_plan,
)
from phasegraph.graph.model.plan import parse_plan

MakeRepo = Callable[[dict[str, str]], Path]


@tool
def count_words(path: str) -> str:
    """Count the words of a text file."""
    return f"{len(Path(path).read_text().split())} words"


@tool
def append_line(path: str, line: str) -> str:
    """Append a line to a text file."""
    with Path(path).open("a") as handle:
        handle.write(line + "\n")
    return f"appended to {Path(path).name}"


@tool
def broken(reason: str) -> str:
    """Always fails."""
    raise ToolException(f"cannot: {reason}")


def registry_with(*adds: tuple[BaseTool, str, list[str]]) -> Any:
    registry = default_registry()
    for item, kind, paths in adds:
        registry.add(skill_from_tool(item, kind=kind, path_args=paths))
    return registry


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


async def test_wrapped_tools_run_in_their_declared_phases_and_their_writes_are_committed(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"notes.txt": "one two three\n"})
    registry = registry_with((count_words, "read", ["path"]), (append_line, "write", ["path"]))
    plan = {
        "goal": "note the word count",
        "steps": [
            {"id": "count", "skill": "count_words", "args": {"path": "notes.txt"}},
            {"id": "note", "skill": "append_line", "args": {"path": "./notes.txt", "line": "4"}},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "note count"}},
        ],
    }
    report = await run_plan(build_orchestrator(registry), parse_plan(plan), repo)

    assert report.status == "completed", report.error
    phases = {s.id: (s.phase, s.status) for s in report.steps}
    assert phases == {
        "count": ("read", "done"),
        "note": ("write", "done"),
        "commit": ("commit", "done"),
    }
    assert "3 words" in next(s.summary for s in report.steps if s.id == "count")
    assert (repo / "notes.txt").read_text() == "one two three\n4\n"
    assert report.written == ["notes.txt"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["notes.txt"]


async def test_a_tool_path_outside_the_workspace_is_refused_before_anything_runs(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"notes.txt": "x\n"})
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    registry = registry_with((append_line, "write", ["path"]))
    plan = parse_plan(
        {
            "goal": "escape",
            "steps": [
                {"id": "w", "skill": "append_line", "args": {"path": "../outside.txt", "line": "!"}}
            ],
        }
    )
    assert any("'w'" in p and "path" in p for p in validate_plan(plan, registry, workspace=repo))

    report = await run_plan(build_orchestrator(registry), plan, repo)
    assert report.status == "stopped"
    assert report.failure_kind == "input"
    assert outside.read_text() == "keep\n"


async def test_a_failing_tool_stops_the_run_with_its_message(make_repo: MakeRepo) -> None:
    repo = make_repo({"notes.txt": "x\n"})
    registry = registry_with((broken, "read", []), (append_line, "write", ["path"]))
    plan = {
        "goal": "fail early",
        "steps": [
            {"id": "try", "skill": "broken", "args": {"reason": "disk on fire"}},
            {"id": "w", "skill": "append_line", "args": {"path": "notes.txt", "line": "!"}},
        ],
    }
    report = await run_plan(
        build_orchestrator(registry), parse_plan(plan), repo, options=RunOptions(retries=1)
    )
    assert report.status == "stopped"
    assert report.failed_step == "try"
    assert "cannot: disk on fire" in (report.error or "")
    assert {s.id: s.status for s in report.steps}["w"] == "skipped"
    assert (repo / "notes.txt").read_text() == "x\n"


def test_a_tool_needs_a_kind_it_can_have() -> None:
    with pytest.raises(ValueError, match="path_args"):
        skill_from_tool(append_line, kind="write")
    with pytest.raises(ValueError, match="commit"):
        skill_from_tool(count_words, kind="commit")
    with pytest.raises(ValueError, match="not among its arguments"):
        skill_from_tool(count_words, kind="read", path_args=["file"])
    skill = skill_from_tool(count_words, kind=SkillKind.READ, name="words")
    assert (skill.name, skill.kind, skill.path_fields()) == ("words", SkillKind.READ, [])
    assert skill.description == "Count the words of a text file."


def test_our_skills_work_as_langchain_tools_inside_their_workspace(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": "def greet() -> str:\n    return 'hello'\n"})
    tools = {t.name: t for t in skills_as_tools(default_registry(), repo)}

    # By default only what changes no file: reads and checks.
    assert {"rg_search", "read_file", "run_pytest"} <= set(tools)
    assert not {"edit_block", "write_file", "git_checkpoint"} & set(tools)

    call = {"name": "read_file", "args": {"path": "lib.py"}, "id": "c1", "type": "tool_call"}
    message = tools["read_file"].invoke(call)
    assert isinstance(message, ToolMessage)
    assert isinstance(message.content, str)
    assert json.loads(message.content)["data"]["text"].startswith("def greet()")
    assert isinstance(message.artifact, SkillResult)

    escape = {"name": "read_file", "args": {"path": "../x"}, "id": "c2", "type": "tool_call"}
    refused = tools["read_file"].invoke(escape)
    assert refused.status == "error"
    assert "outside" in refused.content or ".." in refused.content


async def test_write_skills_are_exported_only_when_asked_and_commits_never(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": "X = 1\n"})
    (edit,) = skills_as_tools(default_registry(), repo, kinds=["write"], names=["edit_block"])
    await edit.ainvoke({"path": "lib.py", "search": "X = 1", "replace": "X = 2"})
    assert (repo / "lib.py").read_text() == "X = 2\n"
    with pytest.raises(ValueError, match="commit"):
        skills_as_tools(default_registry(), repo, kinds=["commit"])
