"""read_file: the text of one UTF-8 workspace file, refused when binary or too large."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.guards.confined_io import open_confined
from phasegraph.skills.guards.workspace import relative_name, resolve_in_workspace


class ReadFileArgs(SkillArgs):
    """Arguments of :func:`read_file`."""

    path: Annotated[str, PathArg()]
    #: Files larger than this are refused rather than cut.
    max_bytes: int = Field(default=1_000_000, ge=1)


def read_text_file(
    path: Path, rel: str, *, max_bytes: int, step_id: str, workspace: Path | None = None
) -> tuple[bytes, str]:
    """Bytes and text of a UTF-8 file, or a :class:`SkillError` saying why it cannot be read.

    Shared with the write skills, which must refuse the same files. With
    ``workspace``, the file is opened through :func:`open_confined`: a symlink
    swapped in after the path was checked is refused, not followed.
    """
    if not path.exists() and not path.is_symlink():
        raise SkillError(f"{rel!r} does not exist; check the path", step_id=step_id)
    if workspace is None:
        if not path.is_file():
            raise SkillError(f"{rel!r} is not a regular file (a directory?)", step_id=step_id)
        fd = os.open(path, os.O_RDONLY)
    else:
        try:
            fd = open_confined(workspace, path, rel=rel, step_id=step_id)
        except FileNotFoundError as exc:
            raise SkillError(f"{rel!r} does not exist; check the path", step_id=step_id) from exc
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise SkillError(
                f"{rel!r} is {size} bytes, over the {max_bytes}-byte cap; raise max_bytes "
                "(read_file's argument) or search it with rg_search instead",
                step_id=step_id,
            )
        # Read one byte past the cap: the file may have grown since fstat().
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SkillError(
            f"{rel!r} is over the {max_bytes}-byte cap; raise max_bytes (read_file's "
            "argument) or use rg_search",
            step_id=step_id,
        )
    if b"\x00" in data:
        raise SkillError(
            f"{rel!r} is binary (it contains NUL bytes); only text files can be read or edited",
            step_id=step_id,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkillError(
            f"{rel!r} is not valid UTF-8 (bad byte at offset {exc.start}); only UTF-8 text "
            "files are supported, convert it first",
            step_id=step_id,
        ) from exc
    return data, text


def count_lines(text: str) -> int:
    """Lines as an editor counts them: a final line without a newline still counts."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


async def read_file(args: ReadFileArgs, ctx: SkillContext) -> SkillResult:
    """Its file work (below) runs in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_read_file, args, ctx)


def _read_file(args: ReadFileArgs, ctx: SkillContext) -> SkillResult:
    """Read a UTF-8 text file: its text, line count and SHA-256."""
    target = resolve_in_workspace(ctx.workspace, args.path, step_id=ctx.step_id)
    data, text = read_text_file(
        target, args.path, max_bytes=args.max_bytes, step_id=ctx.step_id, workspace=ctx.workspace
    )
    rel = relative_name(ctx.workspace, target)
    lines = count_lines(text)
    return SkillResult(
        summary=f"read {rel[:150]}: {lines} lines, {len(data)} bytes",
        data={
            "path": rel,
            "text": text,
            "lines": lines,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )


SKILL = Skill(
    name="read_file",
    kind=SkillKind.READ,
    args_model=ReadFileArgs,
    fn=read_file,
    description="Read a UTF-8 text file from the workspace (refuses binary and oversized files)",
)
