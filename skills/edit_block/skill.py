"""edit_block: replace one block of text in a file, atomically and verified.

The block is found by :func:`~phasegraph.skills.edit_block.matcher.match_block`, shared with
the dry run before a run; this module holds the skill: its arguments, the edit made and
checked on disk, and what it leaves in memory for the dry run.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from phasegraph.skills.base import (
    InMemory,
    PathArg,
    Skill,
    SkillArgs,
    SkillContext,
    SkillKind,
    SkillResult,
)
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.edit_block.ladder import newline_of
from phasegraph.skills.edit_block.matcher import ALREADY_APPLIED, match_block
from phasegraph.skills.guards.confined_io import read_confined, write_confined
from phasegraph.skills.guards.workspace import relative_name, resolve_in_workspace
from phasegraph.skills.read_file import count_lines, read_text_file


class EditBlockArgs(SkillArgs):
    """Arguments of :func:`edit_block`."""

    path: Annotated[str, PathArg()]
    #: Text that must occur exactly once in the file (see :func:`match_block` for the
    #: differences in line endings, trailing whitespace and indentation it forgives).
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


async def edit_block(args: EditBlockArgs, ctx: SkillContext) -> SkillResult:
    """Its file work (below) runs in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_edit_block, args, ctx)


def _edit_block(args: EditBlockArgs, ctx: SkillContext) -> SkillResult:
    """Replace the one match of ``search`` in ``path`` with ``replace`` (see
    :func:`match_block`)."""
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
    found = match_block(rel, text, args.search, args.replace)
    if isinstance(found, str):
        raise SkillError(found, step_id=ctx.step_id)

    expected = found.apply(text).encode("utf-8")
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
    if found.match == ALREADY_APPLIED:
        why = (
            "the replacement is there and holds the only match of the search text"
            if found.inside
            else "the replacement is there, the search text is not"
        )
        summary = (
            f"edit of {rel[:120]} already applied at line {found.line} ({why}): nothing changed"
        )
    else:
        removed = count_lines(text[found.start : found.end])
        added = count_lines(found.replacement)
        what = f"replaced {removed} line(s) with {added}" if changed else "no change (same text)"
        summary = f"edited {rel[:120]} at line {found.line}: {what}{found.note}"
    return SkillResult(
        summary=summary,
        data={
            "path": rel,
            "line": found.line,
            "changed": changed,
            "match": found.match,
            "newline": "crlf" if newline_of(text) == "\r\n" else "lf",
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


def in_memory(args: Mapping[str, Any], rel: str, text: str | None) -> InMemory:
    """The file as the edit leaves it, matched as the edit matches (:func:`match_block`), or
    why it cannot apply."""
    search, replace = args.get("search"), args.get("replace")
    if not isinstance(search, str) or not isinstance(replace, str) or not search:
        return InMemory()  # the args check names it
    if text is None:
        return InMemory(problem=f"{rel} does not exist; use write_file")
    found = match_block(rel, text, search, replace)
    return InMemory(problem=found) if isinstance(found, str) else InMemory(found.apply(text))


SKILL = Skill(
    name="edit_block",
    kind=SkillKind.WRITE,
    args_model=EditBlockArgs,
    fn=edit_block,
    description="Replace one exact, unique block of text in a file (atomic, verified)",
    in_memory=in_memory,
)
