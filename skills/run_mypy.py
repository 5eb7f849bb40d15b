"""The run_mypy skill: type-check with mypy, report errors as stable findings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.procs import run_program
from phasegraph.skills.verify_common import (
    clip,
    finding_key,
    missing_finding,
    plural,
    raw_output,
    relativize,
    require_tool,
    split_targets,
    tool_failure,
    verify_env,
)


class RunMypyArgs(SkillArgs):
    """Arguments of ``run_mypy``."""

    #: Files or folders to check, relative to the workspace; empty means the whole workspace.
    paths: Annotated[list[str], PathArg()] = Field(default_factory=lambda: ["."])
    #: Add ``--strict`` to whatever the project's own mypy configuration says.
    strict: bool = False


async def run_mypy(args: RunMypyArgs, ctx: SkillContext) -> SkillResult:
    """Run mypy with JSON output; its cache goes nowhere, so the workspace stays untouched."""
    mypy = require_tool("mypy", ctx)
    targets = split_targets(ctx, args.paths or ["."])
    messages: list[dict[str, Any]] = []
    run_facts: dict[str, object] = {}
    nothing_to_check = False
    if targets.present:
        argv = [mypy, "-O", "json", "--cache-dir", os.devnull, "--no-error-summary"]
        argv += ["--no-color-output", *(["--strict"] if args.strict else []), "--"]
        argv += targets.present
        proc = await run_program(
            argv,
            cwd=ctx.workspace,
            timeout=ctx.timeout,
            env=verify_env(ctx),
            output_cap=ctx.output_cap,
        )
        if proc.timed_out:
            raise tool_failure("mypy", proc, ctx)
        messages = _parse(ctx.workspace, proc.stdout)
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
    findings = [finding_key(m["path"], m["code"], m["message"]) for m in errors]
    findings += [missing_finding(path) for path in targets.missing]
    data: dict[str, Any] = {"messages": messages, "missing": targets.missing, **run_facts}
    summary = _summary(errors, targets.missing, nothing_to_check)
    return SkillResult(ok=not findings, summary=summary, data=data, findings=findings)


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


def _summary(errors: list[dict[str, Any]], missing: list[str], nothing_to_check: bool) -> str:
    parts: list[str] = []
    if errors:
        files = {e["path"] for e in errors}
        first = errors[0]
        parts.append(
            f"{plural(len(errors), 'error')} in {plural(len(files), 'file')}, first "
            f"{first['path']}:{first['line']} [{first['code']}] {first['message']}"
        )
    if missing:
        parts.append(f"{plural(len(missing), 'path')} not found: {', '.join(missing)}")
    if not parts:
        parts.append("no Python files to check" if nothing_to_check else "no errors")
    return clip("mypy: " + "; ".join(parts))


SKILL = Skill(
    name="run_mypy",
    kind=SkillKind.VERIFY,
    args_model=RunMypyArgs,
    fn=run_mypy,
    description="Type-check with mypy (optionally --strict); findings are path::code::message",
    programs=("mypy",),
)
