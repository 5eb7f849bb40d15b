"""``phasegraph mcp`` with the official MCP client: the server started as a real process on
stdio (and once on streamable HTTP), real runs in real git repositories."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from support.repos import git, require_program, snapshot

from phasegraph.graph.mcp_access import Owner, roots_from
from phasegraph.graph.model.context import RunOptions
from phasegraph.skills.core.errors import InputRefused, PreflightError

MakeRepo = Callable[[dict[str, str]], Path]

CALC = "def add(a: int, b: int) -> int:\n    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
FILES = {"calc.py": CALC, "test_calc.py": TESTS, "pyproject.toml": "[tool.pytest.ini_options]\n"}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def plan(replace: str, *, goal: str = "change add") -> dict[str, Any]:
    return {
        "goal": goal,
        "steps": [
            {
                "id": "edit",
                "skill": "edit_block",
                "args": {"path": "calc.py", "search": "return a + b", "replace": replace},
            },
            {"id": "pytest", "skill": "run_pytest"},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "change add"}},
        ],
    }


@contextlib.asynccontextmanager
async def served(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """A client session with ``phasegraph mcp ARGS`` on stdio, as an MCP client starts it."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "phasegraph.cli.main", "mcp", *args],
        env={**os.environ, **(env or {})},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def report_of(result: CallToolResult) -> dict[str, Any]:
    """The structured report, checked to be the same as the text content's JSON."""
    assert result.structuredContent is not None
    assert json.loads(result.content[0].text) == result.structuredContent  # type: ignore[union-attr]
    return result.structuredContent


async def test_the_tools_are_listed_with_typed_schemas(tmp_path: Path) -> None:
    async with served("--root", str(tmp_path)) as session:
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(listed) == {"run", "validate", "undo", "runs"}
        run = listed["run"]
        assert run.inputSchema["required"] == ["workspace", "plan"]
        props = run.inputSchema["properties"]
        # Each step is typed by its skill: edit_block's args, with their required fields.
        steps = props["plan"]["properties"]["steps"]["items"]["anyOf"]
        edit = next(s for s in steps if s["properties"]["skill"].get("const") == "edit_block")
        assert {"path", "search", "replace"} <= set(edit["properties"]["args"]["required"])
        # The recipes are offered too, the rename among them.
        recipes = props["plan"]["properties"]["recipe"]["anyOf"][0]
        names = [r["properties"]["name"]["const"] for r in recipes.get("anyOf", [recipes])]
        assert "rename" in names
        # A client's options, each defaulting to the owner's: a stopped run restores.
        assert props["options"]["properties"]["on_stop"]["default"] == "restore"
        assert "model" not in props["options"]["properties"]
        assert "edit_block(" in (run.description or "")
        # The report is the structured output.
        assert run.outputSchema is not None
        assert {"status", "run_id", "failed_step", "diff"} <= set(run.outputSchema["properties"])
        assert run.annotations is not None and run.annotations.destructiveHint
        assert listed["validate"].annotations is not None
        assert listed["validate"].annotations.readOnlyHint


async def test_a_plan_runs_to_a_commit_with_progress_then_is_listed_and_undone(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    start = git(repo, "rev-parse", "HEAD").strip()
    received: list[tuple[float, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        received.append((progress, message or ""))

    async with served("--root", str(tmp_path)) as session:
        result = await session.call_tool(
            "run",
            {"workspace": str(repo), "plan": plan("return b + a")},
            progress_callback=on_progress,
        )
        report = report_of(result)
        assert not result.isError, report.get("error")
        assert report["status"] == "completed"
        assert report["commit"] == git(repo, "rev-parse", "HEAD").strip() != start
        assert "return b + a" in (repo / "calc.py").read_text()
        # One notification per step event, in order, each naming its step.
        assert [done for done, _ in received] == list(range(1, len(received) + 1))
        said = "\n".join(message for _, message in received)
        for step in ("edit", "pytest", "commit"):
            assert f"] {step} (" in said
        assert "commit (commit): done" in said

        # The run is recorded in the workspace, and undone by its id.
        runs = (await session.call_tool("runs", {"workspace": str(repo)})).structuredContent
        assert runs is not None
        assert [r["run_id"] for r in runs["runs"]] == [report["run_id"]]
        undone = await session.call_tool(
            "undo", {"workspace": str(repo), "run_id": report["run_id"]}
        )
        assert not undone.isError, undone.content
        assert undone.structuredContent is not None
        assert undone.structuredContent["restored"] == ["calc.py"]
        assert (repo / "calc.py").read_text() == CALC
        assert "Revert" in git(repo, "log", "-1", "--format=%s")
    # The run kept its checkpoints where `phasegraph run` keeps them: the CLI finds it.
    assert (repo / ".phasegraph" / "state.sqlite").is_file()


async def test_a_stopped_run_is_an_error_with_the_report_and_the_tree_put_back(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    (repo / "notes.txt").write_text("the user's own, uncommitted\n")
    before = snapshot(repo)
    async with served("--root", str(tmp_path)) as session:
        result = await session.call_tool(
            "run", {"workspace": str(repo), "plan": json.dumps(plan("return a - b"))}
        )
        report = report_of(result)
        assert result.isError
        assert report["status"] == "stopped"
        assert "test_add" in json.dumps(report["new_findings"])
        assert "-    return a + b" in report["diff"] and "+    return a - b" in report["diff"]
        assert report["restored"] is True
        assert snapshot(repo) == before  # byte for byte, the user's file included

        # A client may keep the tried change instead.
        kept = await session.call_tool(
            "run",
            {"workspace": str(repo), "plan": plan("return a - b"), "options": {"on_stop": "keep"}},
        )
        assert kept.isError
        assert "return a - b" in (repo / "calc.py").read_text()


async def test_a_workspace_outside_the_roots_is_refused_and_nothing_runs(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    roots = tmp_path / "allowed"
    roots.mkdir()
    before = snapshot(repo)
    async with served("--root", str(roots)) as session:
        result = await session.call_tool(
            "run", {"workspace": str(repo), "plan": plan("return b + a")}
        )
        report = report_of(result)
        assert result.isError
        assert report["failure_kind"] == "input"
        assert "is outside the folders this server may work in" in report["error"]
        assert str(roots) in report["error"]
        # A symlink under the roots leads outside: refused all the same.
        (roots / "link").symlink_to(repo)
        linked = await session.call_tool(
            "run", {"workspace": str(roots / "link"), "plan": plan("return b + a")}
        )
        assert linked.isError
        assert "outside the folders" in report_of(linked)["error"]
        for tool, args in (
            ("validate", {"plan": plan("return b + a")}),
            ("undo", {"run_id": "x"}),
            ("runs", {}),
        ):
            refused = await session.call_tool(tool, {"workspace": str(repo), **args})
            assert refused.isError, tool
            assert "outside the folders" in refused.content[0].text  # type: ignore[union-attr]
    assert snapshot(repo) == before
    assert not (repo / ".phasegraph").exists()


async def test_validate_checks_and_preflights_a_plan_and_runs_nothing(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    before = snapshot(repo)
    async with served("--root", str(tmp_path)) as session:
        good = await session.call_tool(
            "validate", {"workspace": str(repo), "plan": plan("return b + a")}
        )
        assert not good.isError
        checked = good.structuredContent
        assert checked is not None and checked["valid"] is True
        assert [(s["id"], s["phase"]) for s in checked["steps"]] == [
            ("edit", "write"),
            ("pytest", "verify"),
            ("commit", "commit"),
        ]
        assert checked["interpreter"]["python"]

        # An edit whose search text is not in the file fails its dry run, by step.
        wrong = plan("return b + a")
        wrong["steps"][0]["args"]["search"] = "return a * b"
        bad = await session.call_tool("validate", {"workspace": str(repo), "plan": wrong})
        problems = bad.structuredContent["problems"] if bad.structuredContent else []
        assert bad.structuredContent is not None and bad.structuredContent["valid"] is False
        assert any("edit" in p for p in problems), problems

        # Args of the wrong type: named by step and field.
        typed = plan("return b + a")
        typed["steps"][0]["args"]["path"] = 3
        bad = await session.call_tool("validate", {"workspace": str(repo), "plan": typed})
        assert bad.structuredContent is not None
        assert any("edit" in p and "path" in p for p in bad.structuredContent["problems"])
    assert snapshot(repo) == before


async def test_a_client_option_that_loosens_the_owners_is_refused_before_anything_runs(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    async with served("--root", str(tmp_path), "--step-timeout", "120") as session:
        for options, named in (
            ({"step_timeout": 900}, "step_timeout"),
            ({"scrub_env": False}, "scrub_env"),
            ({"allow_hosts": ["10.0.0.0/8"]}, "allow_hosts"),
            ({"model": "openai:gpt-4.1"}, "model"),
        ):
            result = await session.call_tool(
                "run", {"workspace": str(repo), "plan": plan("return b + a"), "options": options}
            )
            report = report_of(result)
            assert result.isError and report["failure_kind"] == "input", options
            assert named in report["error"]
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".phasegraph").exists()


def test_the_owner_binds_and_a_client_may_only_tighten(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    owner = Owner(
        roots=(tmp_path.resolve(),),
        options=RunOptions(strict=True, step_timeout=120, allow_hosts=("intranet",)),
        environ={},
    )
    opts = owner.run_options(repo, None)
    assert (opts.strict, opts.step_timeout, opts.allow_hosts) == (True, 120, ("intranet",))
    # Strict whatever the client says; a shorter timeout and fewer hosts are fine.
    opts = owner.run_options(repo, {"strict": False, "step_timeout": 30, "allow_hosts": []})
    assert (opts.strict, opts.step_timeout, opts.allow_hosts) == (True, 30, ())
    assert owner.run_options(repo, '{"on_stop": "keep"}').on_stop == "keep"
    with pytest.raises(InputRefused, match="step_timeout: 121 is above this server's cap"):
        owner.run_options(repo, {"step_timeout": 121})
    with pytest.raises(InputRefused, match="allow_hosts: elsewhere may not be opened"):
        owner.run_options(repo, {"allow_hosts": ["elsewhere"]})
    # An interpreter outside the workspace is the owner's to allow.
    with pytest.raises(InputRefused, match="python: '/usr/bin/python3' is outside the workspace"):
        owner.run_options(repo, {"python": "/usr/bin/python3"})
    assert owner.run_options(repo, {"python": ".venv/bin/python"}).python == str(
        repo.resolve() / ".venv/bin/python"
    )
    with pytest.raises(InputRefused, match="options must be an object"):
        owner.run_options(repo, ["strict"])


def test_the_roots_come_from_the_flags_else_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGRAPH_WORKSPACE_ROOTS", str(tmp_path))
    assert roots_from([]) == [tmp_path.resolve()]
    other = tmp_path / "other"
    other.mkdir()
    assert roots_from([other]) == [other.resolve()]
    with pytest.raises(PreflightError, match="not an existing folder"):
        roots_from([tmp_path / "missing"])
    monkeypatch.delenv("PHASEGRAPH_WORKSPACE_ROOTS")
    with pytest.raises(PreflightError, match="give --root DIR"):
        roots_from([])


def test_without_roots_the_server_does_not_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PHASEGRAPH_WORKSPACE_ROOTS"}
    done = subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", "mcp"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "give --root DIR" in done.stderr


async def test_streamable_http_serves_the_same_tools(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo(FILES)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["mcp", "--root", str(tmp_path), "--http", f"127.0.0.1:{port}"]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "phasegraph.cli.main",
        *args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await listening(port, server)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert names == {"run", "validate", "undo", "runs"}
            checked = await session.call_tool(
                "validate", {"workspace": str(repo), "plan": plan("return b + a")}
            )
            assert checked.structuredContent is not None
            assert checked.structuredContent["valid"] is True
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)


async def listening(port: int, server: asyncio.subprocess.Process) -> None:
    """Wait until ``server`` listens on ``port`` (a minute at most)."""
    for _ in range(300):
        assert server.returncode is None, "the server exited"
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the server did not listen within a minute")
