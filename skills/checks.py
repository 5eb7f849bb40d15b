"""Plumbing the verify skills share: tool lookup, option-proof path arguments, stable keys."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.base import SkillContext, SkillResult
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.guards.procs import ProcResult, find_program, run_program
from phasegraph.skills.guards.workspace import resolve_in_workspace, state_dir
from phasegraph.skills.python.checkers.invocation import Invocation

#: How much raw tool output a result keeps (the end of it, where the summaries are).
OUTPUT_TAIL = 4000

# Messages such as ruff's "redefinition of unused `x` from line 3" or mypy's
# "already defined on line 3" would make a finding change whenever an edit
# shifts lines, so the numbers are masked in the stable key.
_LINE_REF = re.compile(r"\b(lines?|columns?) \d+(?:\s*[-:]\s*\d+)?")
_SPACE = re.compile(r"\s+")


def require_tool(name: str, ctx: SkillContext) -> str:
    """Path of the program ``name``: the project environment's own (its pinned version) when
    it has one, else phasegraph's; a :class:`SkillError` saying how to install it otherwise."""
    found = ctx.python.project_tool(name) or find_program(name)
    if found is None:
        raise SkillError(
            f"{name} is not installed: install it in the project's environment "
            f"({ctx.python.python} -m pip install {name}) or where phasegraph runs",
            step_id=ctx.step_id or None,
        )
    return found


@contextlib.asynccontextmanager
async def temp_dir(prefix: str) -> AsyncIterator[Path]:
    """A temporary folder outside the workspace, made and removed off the event loop."""
    path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=prefix))
    try:
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, path, True)


def read_if_there(path: Path) -> str:
    """``path``'s text, or ``""`` when the tool wrote no file."""
    return path.read_text(encoding="utf-8") if path.exists() else ""


def cache_dir(ctx: SkillContext, tool: str, *key: object) -> Path:
    """A cache folder for ``tool`` under the workspace's ``.phasegraph/`` (git ignores it,
    runs never commit it), one per check configuration so parallel checks never share one."""
    digest = hashlib.sha256(json.dumps([ctx.python.python, *key], default=str).encode())
    return state_dir(ctx.workspace, "cache", f"{tool}-{digest.hexdigest()[:12]}")


def verify_env(ctx: SkillContext) -> dict[str, str]:
    """The subprocess environment for a check: no bytecode written into the workspace."""
    env = ctx.subprocess_env()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def as_argument(rel: str) -> str:
    """``rel`` as a command-line word no tool can read as an option (``-x`` -> ``./-x``)."""
    return f"./{rel}" if rel.startswith("-") else rel


@dataclass(frozen=True)
class Targets:
    """The paths a check was asked to look at, split by whether they exist."""

    #: Existing paths, already made safe to put on a command line.
    present: list[str]
    #: Workspace-relative paths that do not exist (yet): reported as findings, not run.
    missing: list[str]


def split_targets(ctx: SkillContext, paths: Sequence[str], *, node_ids: bool = False) -> Targets:
    """Confine every path to the workspace and split them into present and missing.

    A missing path is not an error: a check planned for a file the run creates
    is also run on the untouched tree (the baseline), where the file does not
    exist yet. With ``node_ids`` a path may carry a pytest ``::test`` suffix.
    """
    present: list[str] = []
    missing: list[str] = []
    for raw in paths:
        file_part = raw.split("::", 1)[0] if node_ids else raw
        target = resolve_in_workspace(ctx.workspace, file_part, step_id=ctx.step_id or None)
        if target.exists():
            present.append(as_argument(raw))
        else:
            missing.append(PurePosixPath(raw.replace("\\", "/")).as_posix())
    return Targets(present=present, missing=missing)


def relativize(workspace: Path, filename: str) -> str:
    """A tool-reported file name as a POSIX path relative to the workspace.

    Names outside the workspace come back unchanged (absolute), so they still
    read sensibly in a finding.
    """
    path = Path(filename)
    if not path.is_absolute():
        return PurePosixPath(os.path.normpath(filename).replace(os.sep, "/")).as_posix()
    candidates = (Path(os.path.normpath(path)), path.resolve())
    for root in (workspace.absolute(), workspace.resolve()):
        for candidate in candidates:
            try:
                return candidate.relative_to(root).as_posix()
            except ValueError:
                continue
    return path.as_posix()


def stable_message(message: str) -> str:
    """``message`` on one line with line and column numbers masked."""
    return _LINE_REF.sub(r"\1 N", _SPACE.sub(" ", message).strip())


def finding_key(path: str, code: str, message: str) -> str:
    """The stable key ``path::code::message`` the baseline comparison counts."""
    return f"{path}::{code}::{stable_message(message)}"


def findings_with_details(items: list[tuple[str, str]]) -> tuple[list[str], dict[str, str]]:
    """Findings (keys, repeats kept) and what each means, from ``(key, line)`` pairs: a key
    found at several places lists each of them."""
    findings = [key for key, _ in items]
    details: dict[str, str] = {}
    for key, line in items:
        details[key] = f"{details[key]}\n{line}" if key in details else line
    return findings, details


def missing_finding(path: str) -> str:
    """The stable key for a path a check was asked to look at that does not exist."""
    return finding_key(path, "not-found", "path does not exist")


def tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    """The last ``limit`` characters of ``text``."""
    return text if len(text) <= limit else "…" + text[-limit:]


async def run_check(
    ctx: SkillContext, argv: list[str], env: dict[str, str] | None = None
) -> ProcResult:
    """Run a check's program in the workspace with the step's timeout and output cap."""
    return await run_program(
        argv,
        cwd=ctx.workspace,
        timeout=ctx.timeout,
        env=env if env is not None else verify_env(ctx),
        output_cap=ctx.output_cap,
    )


def located_result(
    tool: str,
    items: list[dict[str, Any]],
    missing: list[str],
    *,
    noun: str,
    where: Callable[[dict[str, Any]], str],
    data: dict[str, Any],
    empty: str,
    invocation: Invocation | None = None,
) -> SkillResult:
    """A lint or type check's result from its located messages (``path``, ``code``,
    ``message``): stable findings, each one's line for the report, and the summary. With the
    project's ``invocation`` taken, the summary names it (unless it is the default one) and
    the data holds it."""
    if invocation is not None:
        data = {**data, "invocation": invocation.as_data()}
        if invocation.kind != "default":
            tool = f"{tool} ({invocation.describe()})"
    findings, details = findings_with_details(
        [(finding_key(i["path"], i["code"], i["message"]), where(i)) for i in items]
    )
    findings += [missing_finding(path) for path in missing]
    parts: list[str] = []
    if items:
        files = {i["path"] for i in items}
        parts.append(
            f"{plural(len(items), noun)} in {plural(len(files), 'file')}, first {where(items[0])}"
        )
    if missing:
        parts.append(f"{plural(len(missing), 'path')} not found: {', '.join(missing)}")
    summary = clip(f"{tool}: " + ("; ".join(parts) if parts else empty))
    return SkillResult(
        ok=not findings, summary=summary, data=data, findings=findings, details=details
    )


def tool_failure(tool: str, proc: ProcResult, ctx: SkillContext, why: str = "") -> SkillError:
    """The error for a check whose tool itself could not run, with its output's end."""
    if proc.timed_out:
        return SkillError(
            f"{tool} did not finish within {ctx.timeout:g}s and was stopped; "
            "raise the step timeout (--step-timeout SECONDS, RunOptions.step_timeout) or check "
            "fewer paths",
            step_id=ctx.step_id or None,
        )
    output = tail((proc.stderr.strip() + "\n" + proc.stdout.strip()).strip(), 2000)
    reason = why or f"{tool} failed with exit code {proc.returncode}"
    return SkillError(
        f"{reason}; its output ends with:\n{output or '(no output)'}",
        step_id=ctx.step_id or None,
    )


def raw_output(proc: ProcResult) -> dict[str, object]:
    """The run facts every verify result keeps in ``data``."""
    return {
        "argv": list(proc.argv),
        "returncode": proc.returncode,
        "stdout_tail": tail(proc.stdout),
        "stderr_tail": tail(proc.stderr),
        "output_truncated": proc.truncated,
    }
