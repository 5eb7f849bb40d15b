"""write_file: write a whole file (new or replaced) atomically and verify it."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import field_validator

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
from phasegraph.skills.edit_block.skill import text_field
from phasegraph.skills.guards.confined_io import read_confined, write_confined
from phasegraph.skills.guards.workspace import relative_name, resolve_in_workspace
from phasegraph.skills.read_file import read_text_file


class WriteFileArgs(SkillArgs):
    """Arguments of :func:`write_file`."""

    path: Annotated[str, PathArg()]
    #: The whole new content, written as UTF-8 exactly as given (no newline translation).
    content: str
    #: Create missing parent directories.
    create_dirs: bool = True

    @field_validator("content")
    @classmethod
    def _text_only(cls, value: str) -> str:
        return text_field(value)


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # No /proc: the only portable way is to set it and put it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode() -> int:
    """What ``open(path, "w")`` would give a new file; the temp file starts at 0600."""
    return 0o666 & ~_umask()


async def write_file(args: WriteFileArgs, ctx: SkillContext) -> SkillResult:
    """Its file work (below) runs in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_write_file, args, ctx)


def _write_file(args: WriteFileArgs, ctx: SkillContext) -> SkillResult:
    """Write ``content`` to ``path`` (UTF-8), creating or replacing it."""
    target = resolve_in_workspace(ctx.workspace, args.path, step_id=ctx.step_id)
    if target.is_dir():
        raise SkillError(
            f"{args.path!r} is a directory; give the path of a file", step_id=ctx.step_id
        )
    parent = target.parent
    if not parent.is_dir():
        if parent.exists():
            raise SkillError(
                f"cannot write {args.path!r}: {relative_name(ctx.workspace, parent)!r} "
                "is a file, not a directory",
                step_id=ctx.step_id,
            )
        if not args.create_dirs:
            raise SkillError(
                f"the folder of {args.path!r} does not exist; create it or set create_dirs: true",
                step_id=ctx.step_id,
            )
    rel = relative_name(ctx.workspace, target)
    data = args.content.encode("utf-8")
    if len(data) > ctx.edit_max_bytes:
        raise SkillError(
            f"the content for {rel!r} is {len(data)} bytes, over the "
            f"{ctx.edit_max_bytes}-byte cap for writes",
            step_id=ctx.step_id,
        )
    created = not target.exists()
    if not created:
        # The file it replaces must be one the skills may edit: text, under the cap.
        read_text_file(
            target, rel, max_bytes=ctx.edit_max_bytes, step_id=ctx.step_id, workspace=ctx.workspace
        )
    write_confined(
        ctx.workspace,
        target,
        data,
        rel=rel,
        mode=_new_file_mode() if created else None,
        create_dirs=args.create_dirs,
        step_id=ctx.step_id,
    )
    try:
        back = read_confined(
            ctx.workspace, target, rel=rel, max_bytes=len(data), step_id=ctx.step_id
        )
    except FileNotFoundError:
        back = None
    if back != data:
        raise SkillError(
            f"{rel!r} does not hold the new content after writing it (something else wrote "
            "the file at the same time?); check the file and run the step again",
            step_id=ctx.step_id,
        )
    verb = "created" if created else "replaced"
    return SkillResult(
        summary=f"{verb} {rel[:150]} ({len(data)} bytes)",
        data={
            "path": rel,
            "created": created,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        files_written=[rel],
    )


def in_memory(args: Mapping[str, Any], rel: str, text: str | None) -> InMemory:
    """The file as the write leaves it: its content."""
    content = args.get("content")
    return InMemory(content if isinstance(content, str) else None)


SKILL = Skill(
    name="write_file",
    kind=SkillKind.WRITE,
    args_model=WriteFileArgs,
    fn=write_file,
    description="Write a whole UTF-8 file, new or replaced, atomically and verified",
    in_memory=in_memory,
)
