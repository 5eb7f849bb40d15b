"""The run_ruff skill: lint with ruff, report violations as stable findings."""

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
    read_if_there,
    relativize,
    require_tool,
    run_check,
    split_targets,
    temp_dir,
    tool_failure,
)
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.python.checkers.invocation import ruff_invocation


class RunRuffArgs(SkillArgs):
    """Arguments of ``run_ruff``."""

    #: Files or folders to lint, relative to the workspace; empty means what the project
    #: lints: the paths its pre-commit hook, tox environment or nox session gives ``ruff
    #: check`` (:mod:`~phasegraph.skills.python.checkers.invocation`), else what its own
    #: configuration lints (the workspace, less its ``exclude`` / ``extend-exclude``).
    paths: Annotated[list[str], PathArg()] = Field(default_factory=list)


async def run_ruff(args: RunRuffArgs, ctx: SkillContext) -> SkillResult:
    """Run ``ruff check`` (the project's own ruff when its environment has one), never fixing;
    its cache stays under ``.phasegraph/``. With no paths, the summary and
    ``data["invocation"]`` say which invocation of the project's was taken (the summary only
    when it is not the default)."""
    # Filesystem calls go to a worker thread: never a blocking call on the event loop.
    ruff = await asyncio.to_thread(require_tool, "ruff", ctx)
    invocation = None if args.paths else await asyncio.to_thread(ruff_invocation, ctx.workspace)
    paths = list(args.paths) if invocation is None else list(invocation.paths)
    # No paths: ruff lints what the project's configuration says (its includes and excludes).
    targets = (
        await asyncio.to_thread(split_targets, ctx, paths)
        if paths
        else Targets(present=[], missing=[])
    )
    violations: list[dict[str, Any]] = []
    run_facts: dict[str, object] = {}
    if targets.present or not paths:
        async with temp_dir("phasegraph-ruff-") as tmp:
            report = tmp / "ruff.json"
            cache = await asyncio.to_thread(cache_dir, ctx, "ruff", args.paths)
            # --no-fix: a project config saying `fix = true` must not edit the user's files.
            argv = [ruff, "check", "--output-format", "json", "--output-file", str(report)]
            argv += ["--cache-dir", str(cache), "--no-fix"]
            argv += ["--force-exclude", *(["--", *targets.present] if targets.present else [])]
            proc = await run_check(ctx, argv)
            if proc.timed_out or proc.returncode not in (0, 1):
                raise tool_failure("ruff", proc, ctx)
            text = await asyncio.to_thread(read_if_there, report)
        violations = await asyncio.to_thread(_violations, ctx, proc, text)
        run_facts = raw_output(proc)

    return located_result(
        "ruff",
        violations,
        targets.missing,
        noun="problem",
        where=lambda v: f"{v['path']}:{v['line']}:{v['column']}: {v['code']} {v['message']}",
        data={"violations": violations, "missing": targets.missing, **run_facts},
        empty="no problems",
        invocation=invocation,
    )


def _violations(ctx: SkillContext, proc: ProcResult, text: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError("not a list")
        return [_violation(ctx.workspace, item) for item in items]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = f"could not read ruff's JSON report ({exc})"
        raise tool_failure("ruff", proc, ctx, reason) from exc


def _violation(workspace: Path, item: dict[str, Any]) -> dict[str, Any]:
    location = item.get("location") or {}
    end = item.get("end_location") or {}
    return {
        "path": relativize(workspace, str(item["filename"])),
        "line": location.get("row"),
        "column": location.get("column"),
        "end_line": end.get("row"),
        "end_column": end.get("column"),
        "code": item.get("code") or item.get("name") or "invalid-syntax",
        "rule": item.get("name"),
        "message": str(item.get("message", "")),
        "fixable": item.get("fix") is not None,
        "url": item.get("url"),
    }


SKILL = Skill(
    name="run_ruff",
    kind=SkillKind.VERIFY,
    args_model=RunRuffArgs,
    fn=run_ruff,
    description="Lint files with ruff check; findings are path::CODE::message",
    programs=("ruff",),
)
