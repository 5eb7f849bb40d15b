"""The run_mypy skill: type-check with mypy, report errors as stable findings."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.checks import (
    Targets,
    cache_dir,
    located_result,
    raw_output,
    relativize,
    require_tool,
    run_check,
    split_targets,
    tool_failure,
)
from phasegraph.skills.python.checkers.invocation import Invocation, mypy_invocation


class RunMypyArgs(SkillArgs):
    """Arguments of ``run_mypy``."""

    #: Files or folders to check, relative to the workspace; empty means what the project
    #: checks: mypy's ``files`` setting, else the paths its pre-commit hook, tox environment
    #: or nox session gives mypy (:mod:`~phasegraph.skills.python.checkers.invocation`), else ``.``.
    paths: Annotated[list[str], PathArg()] = Field(default_factory=list)
    #: Add ``--strict`` to whatever the project's own mypy configuration says.
    strict: bool = False


async def run_mypy(args: RunMypyArgs, ctx: SkillContext) -> SkillResult:
    """Run mypy with JSON output, as the project configures it, its cache under ``.phasegraph/``.

    The project environment's own mypy runs when it has one; otherwise phasegraph's mypy
    checks against the project's interpreter (``--python-executable``), so it sees the
    packages the project has installed. With no paths, the summary and ``data["invocation"]``
    say which invocation of the project's was taken (the summary only when it is not ``.``).
    """
    # Filesystem calls go to a worker thread: never a blocking call on the event loop.
    own_mypy, mypy, invocation, targets, cache = await asyncio.to_thread(_prepare, args, ctx)
    configured = invocation is not None and invocation.kind == "config"
    messages: list[dict[str, Any]] = []
    run_facts: dict[str, object] = {}
    nothing_to_check = False
    if targets.present or configured:
        argv = [mypy, "-O", "json", "--cache-dir", str(cache), "--no-error-summary"]
        if own_mypy is None and not ctx.python.own:  # phasegraph's mypy, the project's packages
            argv += ["--python-executable", ctx.python.python]
        argv += ["--no-color-output", *(["--strict"] if args.strict else [])]
        argv += ["--", *targets.present] if targets.present else []
        proc = await run_check(ctx, argv)
        if proc.timed_out:
            raise tool_failure("mypy", proc, ctx)
        messages = await asyncio.to_thread(_parse, ctx.workspace, proc.stdout)
        errors_seen = any(m["severity"] == "error" for m in messages)
        if proc.returncode == 2 and not errors_seen:
            if "unrecognized arguments" in proc.stderr and "-O" in proc.stderr:
                raise tool_failure(
                    "mypy", proc, ctx, "this mypy cannot write JSON; pip install 'mypy>=1.11'"
                )
            if "no .py[i] files" in proc.stderr + proc.stdout:
                nothing_to_check = True
            else:
                raise tool_failure("mypy", proc, ctx, "mypy could not run")
        elif proc.returncode not in (0, 1, 2) or (proc.returncode == 1 and not errors_seen):
            raise tool_failure("mypy", proc, ctx, f"mypy failed with exit code {proc.returncode}")
        run_facts = raw_output(proc)

    errors = [m for m in messages if m["severity"] == "error"]
    return located_result(
        "mypy",
        errors,
        targets.missing,
        noun="error",
        where=lambda m: f"{m['path']}:{m['line']}: error: {m['message']}  [{m['code']}]",
        data={"messages": messages, "missing": targets.missing, **run_facts},
        empty="no Python files to check" if nothing_to_check else "no errors",
        invocation=invocation,
    )


def _prepare(
    args: RunMypyArgs, ctx: SkillContext
) -> tuple[str | None, str, Invocation | None, Targets, Path]:
    """mypy (the project's, else phasegraph's), the project's invocation taken (``None``:
    the plan named the paths), the targets and the cache folder."""
    own_mypy = ctx.python.project_tool("mypy")
    mypy = own_mypy or require_tool("mypy", ctx)
    invocation = None if args.paths else mypy_invocation(ctx.workspace)
    # mypy's own `files` setting: no path arguments, so mypy applies it.
    paths = list(args.paths) if invocation is None else list(invocation.paths)
    targets = split_targets(ctx, paths) if paths else Targets(present=[], missing=[])
    return own_mypy, mypy, invocation, targets, cache_dir(ctx, "mypy", args.paths, args.strict)


def _parse(workspace: Path, stdout: str) -> list[dict[str, Any]]:
    """mypy's JSON lines (one object per message); anything else on stdout is skipped."""
    messages: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line cut short by the output cap
        if not isinstance(item, dict) or "file" not in item:
            continue
        messages.append(
            {
                "path": relativize(workspace, str(item["file"])),
                "line": item.get("line"),
                "column": item.get("column"),
                "end_line": item.get("end_line"),
                "end_column": item.get("end_column"),
                "severity": str(item.get("severity") or "error"),
                # A few messages (some notes, old plugins) carry no error code.
                "code": str(item.get("code") or "misc"),
                "message": str(item.get("message", "")),
                "hint": item.get("hint"),
            }
        )
    return messages


SKILL = Skill(
    name="run_mypy",
    kind=SkillKind.VERIFY,
    args_model=RunMypyArgs,
    fn=run_mypy,
    description="Type-check with mypy (optionally --strict); findings are path::code::message",
    programs=("mypy",),
)
