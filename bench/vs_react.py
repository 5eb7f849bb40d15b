"""Bench 1: the same task done by a ReAct agent and by phasegraph's LLM planner.

The task: N independent reads, W writes, 3 verifies and a commit. Both sides use
the same simulated skills (a sleep each: read 0.2 s, write 0.05 s, verify 0.5 s,
commit 0.05 s) and a scripted chat model with the same latency per call
(0.3 s) and the same token estimate. The ReAct agent (langchain's
``create_agent``, LangGraph's prebuilt agent loop) is scripted as the classic
ReAct baseline, one tool call per model turn; a second variant batches the
reads and the verifies into parallel tool calls, as a model with parallel tool
calling could. Prints one JSON line per N with wall time, model calls and
tokens of each, and the ratios. Targets at N = 20: >= 5x faster, >= 5x fewer calls.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from common import emit, sizes
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import StructuredTool
from scripted import ScriptedChatModel, ToolCallingScriptedModel

from phasegraph import (
    PathArg,
    RunOptions,
    SkillArgs,
    SkillContext,
    SkillRegistry,
    SkillResult,
    build_orchestrator,
    default_registry,
)
from phasegraph.graph.run import run_request

LATENCY = {"read": 0.2, "write": 0.05, "verify": 0.5, "commit": 0.05}
WRITES = 5


async def sim(kind: str, what: str) -> str:
    await asyncio.sleep(LATENCY[kind])
    return f"{kind} {what}: ok"


class ReadArgs(SkillArgs):
    key: str


class WriteArgs(SkillArgs):
    path: Annotated[str, PathArg()]


class VerifyArgs(SkillArgs):
    check: str


class CommitArgs(SkillArgs):
    message: str


def registry() -> SkillRegistry:
    reg = default_registry()

    @reg.skill("sim_read", kind="read", args=ReadArgs, description="Read one thing (simulated).")
    async def sim_read(args: ReadArgs, ctx: SkillContext) -> SkillResult:
        return SkillResult(summary=await sim("read", args.key))

    @reg.skill("sim_write", kind="write", args=WriteArgs, description="Write a file (simulated).")
    async def sim_write(args: WriteArgs, ctx: SkillContext) -> SkillResult:
        return SkillResult(summary=await sim("write", args.path))

    @reg.skill("sim_verify", kind="verify", args=VerifyArgs, description="Run a check (simulated).")
    async def sim_verify(args: VerifyArgs, ctx: SkillContext) -> SkillResult:
        return SkillResult(summary=await sim("verify", args.check))

    @reg.skill("sim_commit", kind="commit", args=CommitArgs, description="Commit (simulated).")
    async def sim_commit(args: CommitArgs, ctx: SkillContext) -> SkillResult:
        return SkillResult(summary=await sim("commit", args.message))

    return reg


def task(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the plan's steps without writes, the writes) for N reads."""
    reads = [{"id": f"read{k}", "skill": "sim_read", "args": {"key": f"file{k}"}} for k in range(n)]
    checks = [
        {"id": c, "skill": "sim_verify", "args": {"check": c}} for c in ("ruff", "mypy", "pytest")
    ]
    commit = [{"id": "commit", "skill": "sim_commit", "args": {"message": "done"}}]
    writes = [
        {"id": f"write{k}", "skill": "sim_write", "args": {"path": f"f{k}.py"}}
        for k in range(WRITES)
    ]
    return [*reads, *checks, *commit], writes


async def phasegraph_side(n: int, workspace: Path) -> dict[str, Any]:
    planned, writes = task(n)
    answers = iter([{"goal": "do the task", "steps": planned}, {"steps": writes}])

    def respond(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(content=json.dumps(next(answers)))

    model = ScriptedChatModel(responder=respond)
    graph = build_orchestrator(registry(), model=model, read_concurrency=64)
    start = time.perf_counter()
    report = await run_request(graph, "do the task", workspace, options=RunOptions())
    wall = time.perf_counter() - start
    assert report.status == "completed", report.error
    return {
        "wall_s": wall,
        "calls": model.calls,
        "tokens": model.input_tokens + model.output_tokens,
    }


def react_script(n: int, parallel: bool) -> list[list[dict[str, Any]]]:
    """The tool calls of each model turn."""
    planned, writes = task(n)
    reads, checks, commit = planned[:n], planned[n : n + 3], planned[n + 3 :]
    call = lambda s: {"name": s["skill"], "args": s["args"], "id": s["id"]}  # noqa: E731
    one_each = [[call(s)] for s in writes] + [[call(s)] for s in commit]
    if parallel:
        return [
            [call(s) for s in reads],
            *one_each[:WRITES],
            [call(s) for s in checks],
            *one_each[WRITES:],
        ]
    return (
        [[call(s)] for s in reads]
        + one_each[:WRITES]
        + [[call(s)] for s in checks]
        + one_each[WRITES:]
    )


async def react_side(n: int, parallel: bool) -> dict[str, Any]:
    turns = react_script(n, parallel)

    def respond(messages: list[BaseMessage]) -> AIMessage:
        done = sum(1 for m in messages if isinstance(m, AIMessage))
        if done < len(turns):
            return AIMessage(content="", tool_calls=turns[done])
        return AIMessage(content="All done: reads, writes, checks green, committed.")

    async def read(key: str) -> str:
        return await sim("read", key)

    async def write(path: str) -> str:
        return await sim("write", path)

    async def verify(check: str) -> str:
        return await sim("verify", check)

    async def commit(message: str) -> str:
        return await sim("commit", message)

    tools = [
        StructuredTool.from_function(coroutine=f, name=name, description=f"{name} (simulated)")
        for name, f in (
            ("sim_read", read),
            ("sim_write", write),
            ("sim_verify", verify),
            ("sim_commit", commit),
        )
    ]
    model = ToolCallingScriptedModel(responder=respond)
    agent = create_agent(model, tools)
    start = time.perf_counter()
    result = await agent.ainvoke(
        {"messages": [("user", "do the task")]}, {"recursion_limit": 10 * n + 100}
    )
    wall = time.perf_counter() - start
    assert sum(isinstance(m, ToolMessage) for m in result["messages"]) == n + WRITES + 4
    return {
        "wall_s": wall,
        "calls": model.calls,
        "tokens": model.input_tokens + model.output_tokens,
    }


def git_workspace() -> Path:
    path = Path(tempfile.mkdtemp(prefix="phasegraph-react-"))
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    return path


async def main(argv: list[str]) -> None:
    for n in sizes(argv, [5, 20, 50]):
        ours = await phasegraph_side(n, git_workspace())
        react = await react_side(n, parallel=False)
        react_par = await react_side(n, parallel=True)
        emit(
            {
                "bench": "vs_react",
                "reads": n,
                "writes": WRITES,
                "verifies": 3,
                "phasegraph": {k: round(v, 3) for k, v in ours.items()},
                "react": {k: round(v, 3) for k, v in react.items()},
                "react_parallel_tools": {k: round(v, 3) for k, v in react_par.items()},
                "faster_x": round(react["wall_s"] / ours["wall_s"], 2),
                "fewer_calls_x": round(react["calls"] / ours["calls"], 2),
                "fewer_tokens_x": round(react["tokens"] / ours["tokens"], 2),
                "faster_than_parallel_react_x": round(react_par["wall_s"] / ours["wall_s"], 2),
                "target_x_at_20": 5,
            }
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
