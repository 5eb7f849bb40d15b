"""edit_block: replace one exact block of text in a file, atomically and verified."""

from __future__ import annotations

import asyncio
import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.errors import SkillError
from phasegraph.skills.read_file import count_lines, read_text_file
from phasegraph.skills.workspace import (
    read_confined,
    relative_name,
    resolve_in_workspace,
    write_confined,
)

#: Lines of the nearest match shown in a "not found" error.
_SHOWN_LINES = 12


class EditBlockArgs(SkillArgs):
    """Arguments of :func:`edit_block`."""

    path: Annotated[str, PathArg()]
    #: Text that must occur exactly once in the file.
    search: str = Field(min_length=1)
    #: What replaces it.
    replace: str

    @field_validator("search", "replace")
    @classmethod
    def _text_only(cls, value: str) -> str:
        return text_field(value)


def text_field(value: str) -> str:
    """``value`` if it can be written into a UTF-8 text file as it is, else a ValueError.

    A NUL byte would turn the file binary, and a lone surrogate (``"\\ud800"`` in
    JSON) has no UTF-8 form: both are refused when the plan is checked, not midway.
    """
    if "\x00" in value:
        raise ValueError("the text contains a NUL byte, which would make the file binary")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the text holds {value[exc.start]!r} at offset {exc.start}, "
            "which has no UTF-8 form (a lone surrogate)"
        ) from exc
    return value


def _newline_of(text: str) -> str:
    """The file's dominant newline: CRLF when most line ends are CRLF, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"


def _with_newline(text: str, newline: str) -> str:
    lf = text.replace("\r\n", "\n")
    return lf if newline == "\n" else lf.replace("\n", "\r\n")


def find_all(text: str, needle: str) -> list[int]:
    """Start offsets of every occurrence, overlapping ones included."""
    found: list[int] = []
    start = text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + 1)
    return found


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@dataclass(frozen=True)
class _Nearest:
    line: int
    ratio: float
    lines: list[str]
    whitespace_only: bool


def _nearest(text: str, search: str) -> _Nearest | None:
    """The window of file lines most like ``search`` (difflib), with its 1-based line."""
    lines = text.replace("\r\n", "\n").split("\n")
    wanted = search.replace("\r\n", "\n").strip("\n")
    size = max(1, len(wanted.split("\n")))
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)
    best: _Nearest | None = None
    for start in range(max(1, len(lines) - size + 1)):
        window = lines[start : start + size]
        matcher.set_seq1("\n".join(window))
        floor = best.ratio if best else 0.0
        if matcher.real_quick_ratio() <= floor or matcher.quick_ratio() <= floor:
            continue
        ratio = matcher.ratio()
        if ratio > floor:
            best = _Nearest(start + 1, ratio, window, False)
    if best is None:
        return None
    same_words = [ln.split() for ln in best.lines] == [ln.split() for ln in wanted.split("\n")]
    return _Nearest(best.line, best.ratio, best.lines, same_words)


def _quote(search: str, limit: int = 60) -> str:
    """The search text as a short one-line quote, so a message names its input."""
    first = search.strip().splitlines()[0] if search.strip() else search
    more = "…" if len(first) > limit or "\n" in search.strip() else ""
    return repr(first[:limit] + more)


def _not_found(rel: str, text: str, search: str) -> str:
    near = _nearest(text, search)
    head = f"search text {_quote(search)} not found in {rel!r}"
    fix = "copy the block exactly as the file has it (read_file shows it) into search"
    if near is None or near.ratio < 0.3:
        return f"{head}, and nothing in it looks similar; check the path, then {fix}"
    shown = [
        f"  {near.line + i:>5} | {line[:160]}" for i, line in enumerate(near.lines[:_SHOWN_LINES])
    ]
    if len(near.lines) > _SHOWN_LINES:
        shown.append(f"        ... ({len(near.lines) - _SHOWN_LINES} more lines)")
    why = " (it differs only in whitespace or indentation)" if near.whitespace_only else ""
    return (
        f"{head}; the nearest match{why} is at line {near.line} "
        f"({near.ratio:.0%} similar):\n" + "\n".join(shown) + f"\n{fix}"
    )


def match_problem(rel: str, text: str, search: str, found: list[int]) -> str | None:
    """Why ``search``, found at ``found`` in ``text``, cannot be edited (``None``: exactly
    once). One message for the edit itself and for the dry run before a run."""
    if not found:
        return _not_found(rel, text, search)
    if len(found) == 1:
        return None
    lines = ", ".join(str(_line_at(text, at)) for at in found[:50])
    more = f" and {len(found) - 50} more" if len(found) > 50 else ""
    return (
        f"search text {_quote(search)} matches {len(found)} times in {rel!r} "
        f"(at lines {lines}{more}); "
        "it must match exactly once, so add surrounding lines to make it unique"
    )


async def edit_block(args: EditBlockArgs, ctx: SkillContext) -> SkillResult:
    """Its file work (below) runs in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_edit_block, args, ctx)


def _edit_block(args: EditBlockArgs, ctx: SkillContext) -> SkillResult:
    """Replace the one occurrence of ``search`` in ``path`` with ``replace``."""
    if not args.search:
        raise SkillError(
            f"edit_block on {args.path!r} needs a non-empty search text; "
            "use write_file to write a whole file",
            step_id=ctx.step_id,
        )
    target = resolve_in_workspace(ctx.workspace, args.path, step_id=ctx.step_id)
    rel = relative_name(ctx.workspace, target)
    original, text = read_text_file(
        target, rel, max_bytes=ctx.edit_max_bytes, step_id=ctx.step_id, workspace=ctx.workspace
    )

    newline = _newline_of(text)
    search = _with_newline(args.search, newline)
    replace = _with_newline(args.replace, newline)
    found = find_all(text, search)
    if not found and search != args.search:
        # A file with mixed line ends: the block may match only as given.
        search, replace = args.search, args.replace
        found = find_all(text, search)
    problem = match_problem(rel, text, args.search, found)
    if problem:
        raise SkillError(problem, step_id=ctx.step_id)

    at = found[0]
    line = _line_at(text, at)
    new_text = text[:at] + replace + text[at + len(search) :]
    expected = new_text.encode("utf-8")
    changed = expected != original
    if changed:
        if _read_back(ctx, target, rel, len(original)) != original:
            raise SkillError(
                f"{rel!r} changed while it was being edited; run the step again",
                step_id=ctx.step_id,
                transient=True,
            )
        write_confined(ctx.workspace, target, expected, rel=rel, step_id=ctx.step_id)
        if _read_back(ctx, target, rel, len(expected)) != expected:
            raise SkillError(
                f"{rel!r} does not hold the edit after writing it (something else wrote the "
                "file at the same time?); check the file and run the step again",
                step_id=ctx.step_id,
            )
    removed = count_lines(search)
    added = count_lines(replace)
    what = f"replaced {removed} line(s) with {added}" if changed else "no change (same text)"
    return SkillResult(
        summary=f"edited {rel[:120]} at line {line}: {what}",
        data={
            "path": rel,
            "line": line,
            "changed": changed,
            "newline": "crlf" if newline == "\r\n" else "lf",
            "sha256": hashlib.sha256(expected).hexdigest(),
        },
        files_written=[rel] if changed else [],
    )


def _read_back(ctx: SkillContext, target: Path, rel: str, size: int) -> bytes:
    """The file's bytes now (one past ``size`` at most), read without following symlinks."""
    try:
        return read_confined(ctx.workspace, target, rel=rel, max_bytes=size, step_id=ctx.step_id)
    except FileNotFoundError:
        return b""


SKILL = Skill(
    name="edit_block",
    kind=SkillKind.WRITE,
    args_model=EditBlockArgs,
    fn=edit_block,
    description="Replace one exact, unique block of text in a file (atomic, verified)",
)
