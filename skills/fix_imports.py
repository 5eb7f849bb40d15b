"""fix_imports: sort the imports of some Python files with ruff (its ``I`` rules), verified.

It also owns the way a write runs ruff over files (:func:`rewrite_with_ruff`): each file
through ruff's stdin under its own name (so the project's settings apply), checked to
settle, written atomically only when it changes and read back; the ``format`` skill
(:mod:`phasegraph.skills.format_code`) writes through it too.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.checks import require_tool, verify_env
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.guards.confined_io import read_confined, write_confined
from phasegraph.skills.guards.procs import run_program
from phasegraph.skills.guards.workspace import relative_name, resolve_in_workspace
from phasegraph.skills.read_file import read_text_file


class FixImportsArgs(SkillArgs):
    """Arguments of :func:`fix_imports`."""

    #: The Python files whose imports to sort, relative to the workspace.
    paths: Annotated[list[str], PathArg()] = Field(min_length=1)


def read_source(ctx: SkillContext, rel: str) -> tuple[Path, str, bytes]:
    """The confined path, workspace-relative name and bytes of the text file ``rel``
    (a :class:`SkillError` when it is missing, binary or over the edit cap). Blocking."""
    target = resolve_in_workspace(ctx.workspace, rel, step_id=ctx.step_id, must_exist=True)
    name = relative_name(ctx.workspace, target)
    data, _ = read_text_file(
        target, name, max_bytes=ctx.edit_max_bytes, step_id=ctx.step_id, workspace=ctx.workspace
    )
    return target, name, data


def write_verified(ctx: SkillContext, target: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically, confined, and read it back. Blocking."""
    write_confined(ctx.workspace, target, data, rel=name, step_id=ctx.step_id)
    back = read_confined(ctx.workspace, target, rel=name, max_bytes=len(data), step_id=ctx.step_id)
    if back != data:
        raise SkillError(
            f"{name!r} does not hold what ruff wrote after writing it (something else wrote "
            "the file at the same time?); check the file and run the step again",
            step_id=ctx.step_id,
        )


async def through_ruff(
    ruff: str, ctx: SkillContext, name: str, data: bytes, command: Sequence[str], doing: str
) -> str:
    """``data`` as ``ruff <command>`` leaves it, the file going through stdin under its
    name, so the project's settings (and first-party packages) apply to it. ``doing``
    names the work in the error ("sort the imports of", "format")."""
    argv = [ruff, *command, "--stdin-filename", name, "-"]
    result = await run_program(
        argv,
        cwd=ctx.workspace,
        timeout=ctx.timeout,
        env=verify_env(ctx),
        output_cap=max(ctx.output_cap, len(data) * 2 + 65536),
        stdin=data,
    )
    if result.timed_out or result.returncode != 0 or result.truncated:
        why = "timed out" if result.timed_out else f"exit {result.returncode}"
        raise SkillError(
            f"ruff could not {doing} {name!r} ({why}: "
            f"{clip(result.stderr, 300) or 'no message'}); fix the file or the project's ruff "
            "settings, or leave that step out",
            step_id=ctx.step_id,
        )
    return result.stdout


async def rewrite_with_ruff(
    ctx: SkillContext, paths: Sequence[str], command: Sequence[str], doing: str
) -> tuple[list[str], dict[str, str]]:
    """Run ``ruff <command>`` (the project's own ruff first) on each file and write the
    files it changes, atomically; every other file keeps its bytes. The files written
    and their sha256s. A file whose result ruff would change again is an error."""
    ruff = await asyncio.to_thread(require_tool, "ruff", ctx)
    changed: list[str] = []
    digest: dict[str, str] = {}
    for rel in dict.fromkeys(paths):
        target, name, data = await asyncio.to_thread(read_source, ctx, rel)
        fixed = (await through_ruff(ruff, ctx, name, data, command, doing)).encode("utf-8")
        if fixed == data:
            continue
        # Twice must change nothing more: ruff agrees with what it wrote.
        if (await through_ruff(ruff, ctx, name, fixed, command, doing)).encode("utf-8") != fixed:
            raise SkillError(
                f"ruff does not settle on {name!r} (a second run to {doing} it changes it "
                "again); fix that file by hand or leave that step out",
                step_id=ctx.step_id,
            )
        await asyncio.to_thread(write_verified, ctx, target, name, fixed)
        changed.append(name)
        digest[name] = hashlib.sha256(fixed).hexdigest()
    return changed, digest


#: ``ruff check`` sorting imports only, as the project's isort settings say.
SORT_IMPORTS = ("check", "--select", "I", "--fix", "--no-cache", "--exit-zero")


async def fix_imports(args: FixImportsArgs, ctx: SkillContext) -> SkillResult:
    """Sort each file's imports (``ruff check --select I --fix``, the project's own ruff
    first) and write the files that change, atomically; every other file keeps its bytes."""
    changed, digest = await rewrite_with_ruff(ctx, args.paths, SORT_IMPORTS, "sort the imports of")
    summary = (
        f"sorted the imports of {plural(len(changed), 'file')}: {', '.join(changed)}"
        if changed
        else f"imports already sorted in {plural(len(args.paths), 'file')}"
    )
    return SkillResult(
        summary=clip(summary),
        data={"changed": changed, "checked": list(args.paths), "sha256s": digest},
        files_written=changed,
    )


SKILL = Skill(
    name="fix_imports",
    kind=SkillKind.WRITE,
    args_model=FixImportsArgs,
    fn=fix_imports,
    description="Sort the imports of Python files with ruff (I rules), atomically and verified",
    programs=("ruff",),
)
