"""rg_search: search the workspace with ripgrep and return structured matches."""

from __future__ import annotations

import asyncio
import base64
import json
import posixpath
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import plural
from phasegraph.skills.guards.procs import find_program, run_program
from phasegraph.skills.guards.workspace import PROTECTED, resolve_in_workspace, workspace_relative


class RgSearchArgs(SkillArgs):
    """Arguments of :func:`rg_search`."""

    #: A Rust regex (or a literal with ``fixed_strings``), matched line by line.
    pattern: str = Field(min_length=1)
    #: File or folder to search, relative to the workspace.
    path: Annotated[str, PathArg()] = "."
    #: Only search files matching this ripgrep glob, e.g. ``*.py`` or ``!tests/**``.
    glob: str | None = None
    #: Treat ``pattern`` as literal text, not a regex.
    fixed_strings: bool = False
    #: Stop after this many matching lines in all.
    max_matches: int = Field(default=1000, ge=1)


def _text(field: dict[str, Any]) -> bytes:
    """ripgrep's ``{"text": ...}`` or (for non-UTF-8 data) ``{"bytes": base64}``."""
    if "text" in field:
        return str(field["text"]).encode("utf-8")
    return base64.b64decode(field.get("bytes", ""))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _match(data: dict[str, Any]) -> dict[str, Any]:
    """One ``match`` event as a JSON-friendly dict; offsets are str indices into ``text``."""
    path = posixpath.normpath(_decode(_text(data["path"])))
    raw_line = _text(data["lines"])
    line = _decode(raw_line)
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    submatches = [
        {
            # ripgrep counts bytes; Python users slice strings by characters.
            "start": len(_decode(raw_line[: int(sub["start"])])),
            "end": len(_decode(raw_line[: int(sub["end"])])),
            "text": _decode(_text(sub["match"])),
        }
        for sub in data.get("submatches", [])
    ]
    return {
        "path": path,
        "line": int(data["line_number"]),
        "text": line,
        "submatches": submatches,
    }


def _locate(args: RgSearchArgs, ctx: SkillContext) -> tuple[str, str | None, Path]:
    """The search root (workspace-relative), ripgrep and the folder to run it in (filesystem
    calls: they run in a worker thread)."""
    target = resolve_in_workspace(ctx.workspace, args.path, step_id=ctx.step_id, must_exist=True)
    return workspace_relative(ctx.workspace, target), find_program("rg"), ctx.workspace.resolve()


async def rg_search(args: RgSearchArgs, ctx: SkillContext) -> SkillResult:
    """Search files under ``path`` for ``pattern`` with ripgrep (``.git/`` never searched)."""
    rel, rg, cwd = await asyncio.to_thread(_locate, args, ctx)
    if rg is None:
        raise SkillError(
            "ripgrep (rg) is not installed; install it with `pip install ripgrep==14.1.0` "
            "or your package manager",
            step_id=ctx.step_id,
        )
    # One line past the cap per file, so a file that alone overflows it shows as truncated.
    per_file = str(args.max_matches + 1)
    argv = [rg, "--json", "--no-config", "--sort", "path", "--max-count", per_file]
    if args.fixed_strings:
        argv.append("--fixed-strings")
    # Values from a plan go in the --option=value form, so none can pose as an option
    # ("--pre=sh" as a glob stays a glob), and the path comes after "--".
    if args.glob is not None:
        argv.append(f"--glob={args.glob}")
    # Later globs win in ripgrep, so these come last: a user glob cannot re-include them.
    # A glob without a slash matches at any depth, so nested .git folders are out too.
    argv += [f"--glob=!{name}" for name in PROTECTED]
    argv += [f"--regexp={args.pattern}", "--", rel]

    proc = await run_program(
        argv,
        cwd=cwd,
        timeout=ctx.timeout,
        env=ctx.subprocess_env(),
        output_cap=ctx.output_cap,
        supervised=False,  # ripgrep starts nothing (no --pre: a plan cannot give one)
    )
    shown = repr(args.pattern) if len(args.pattern) <= 60 else repr(args.pattern[:57] + "...")
    if proc.timed_out:
        raise SkillError(
            f"rg_search for {shown} in {args.path!r} did not finish within {ctx.timeout:g} s; "
            "narrow the path or add a glob",
            step_id=ctx.step_id,
        )
    if proc.returncode not in (0, 1):
        raise SkillError(
            f"rg_search for {shown} failed (rg exit {proc.returncode}): "
            f"{proc.stderr.strip()[:1000] or 'no message'}; fix the pattern "
            "(or set fixed_strings: true for literal text)",
            step_id=ctx.step_id,
        )

    matches: list[dict[str, Any]] = []
    truncated = proc.truncated
    for raw in proc.stdout.splitlines():
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            # Only the last line can be cut short, when output hit the cap.
            truncated = True
            continue
        if event.get("type") != "match":
            continue
        if len(matches) >= args.max_matches:
            truncated = True
            break
        matches.append(_match(event["data"]))

    files = len({m["path"] for m in matches})
    more = " (truncated)" if truncated else ""
    where = "" if args.path in (".", "") else f" under {args.path[:60]!r}"
    return SkillResult(
        summary=(
            f"{plural(len(matches), 'match')} in {plural(files, 'file')} for {shown}{where}{more}"
        ),
        data={"pattern": args.pattern, "matches": matches, "files": files, "truncated": truncated},
    )


SKILL = Skill(
    name="rg_search",
    kind=SkillKind.READ,
    args_model=RgSearchArgs,
    fn=rg_search,
    description="Search workspace files with ripgrep (regex or literal); structured matches",
    programs=("rg",),
)
