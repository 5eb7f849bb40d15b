"""MCP tools as skills: a real MCP server on stdio, started by the test, in a real run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, require_program

from phasegraph import RunOptions, build_orchestrator, default_registry, load_mcp_skills, run_plan

MakeRepo = Callable[[dict[str, str]], Path]

SERVER = Path(__file__).with_name("mcp_notes_server.py")
CONNECTIONS: dict[str, dict[str, Any]] = {
    "notes": {"transport": "stdio", "command": sys.executable, "args": [str(SERVER)]}
}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


async def test_mcp_tools_with_declared_kinds_run_a_plan_to_a_commit(make_repo: MakeRepo) -> None:
    repo = make_repo({"notes.md": "alpha beta\n"})
    registry = default_registry()
    added = await load_mcp_skills(
        registry,
        CONNECTIONS,
        {"word_count": "read", "append_note": "write"},
        path_args={"word_count": ["path"], "append_note": ["path"]},
    )
    assert [(s.name, s.kind.value) for s in added] == [
        ("word_count", "read"),
        ("append_note", "write"),
    ]
    # Tools offered but not given a kind stay out of the registry.
    assert "refuse" not in registry

    plan = {
        "goal": "count and note",
        "steps": [
            {"id": "count", "skill": "word_count", "args": {"path": "notes.md"}},
            {"id": "note", "skill": "append_note", "args": {"path": "notes.md", "note": "gamma"}},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "add a note"}},
        ],
    }
    report = await run_plan(build_orchestrator(registry), plan, repo)

    assert report.status == "completed", report.error
    summaries = {s.id: s.summary for s in report.steps}
    assert "2 words" in summaries["count"]
    assert (repo / "notes.md").read_text() == "alpha beta\ngamma\n"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["notes.md"]


async def test_an_mcp_tool_error_fails_its_step(make_repo: MakeRepo) -> None:
    repo = make_repo({"notes.md": "alpha\n"})
    registry = default_registry()
    await load_mcp_skills(registry, CONNECTIONS, {"refuse": "read"})
    plan = {
        "goal": "be refused",
        "steps": [{"id": "ask", "skill": "refuse", "args": {"reason": "not today"}}],
    }
    report = await run_plan(build_orchestrator(registry), plan, repo, options=RunOptions(retries=1))
    assert report.status == "stopped"
    assert report.failed_step == "ask"
    assert "refused: not today" in (report.error or "")


async def test_naming_a_tool_the_server_does_not_offer_is_an_error() -> None:
    with pytest.raises(ValueError, match="no tool named 'nope'"):
        await load_mcp_skills(default_registry(), CONNECTIONS, {"nope": "read"})
