"""fix_imports: sort the imports of some Python files with ruff (its ``I`` rules), verified."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Annotated

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.errors import SkillError
from phasegraph.skills.procs import run_program
from phasegraph.skills.read_file import read_text_file
from phasegraph.skills.text import clip, plural
from phasegraph.skills.verify_common import require_tool, verify_env
from phasegraph.skills.workspace import (
    read_confined,
    relative_name,
    resolve_in_workspace,
    write_confined,
)


class FixImportsArgs(SkillArgs):
    """Arguments of :func:`fix_imports`."""

    #: The Python files whose imports to sort, relative to the workspace.
    paths: Annotated[list[str], PathArg()] = Field(min_length=1)


def _read(ctx: SkillContext, rel: str) -> tuple[Path, str, bytes]:
    target = resolve_in_workspace(ctx.workspace, rel, step_id=ctx.step_id, must_exist=True)
    name = relative_name(ctx.workspace, target)
    data, _ = read_text_file(
        target, name, max_bytes=ctx.edit_max_bytes, step_id=ctx.step_id, workspace=ctx.workspace
    )
    return target, name, data


def _write(ctx: SkillContext, target: Path, name: str, data: bytes) -> None:
    write_confined(ctx.workspace, target, data, rel=name, step_id=ctx.step_id)
    back = read_confined(ctx.workspace, target, rel=name, max_bytes=len(data), step_id=ctx.step_id)
    if back != data:
        raise SkillError(
            f"{name!r} does not hold the sorted imports after writing them (something else "
            "wrote the file at the same time?); check the file and run the step again",
            step_id=ctx.step_id,
        )


async def _sorted(ruff: str, ctx: SkillContext, name: str, data: bytes) -> str:
    """``data`` with its imports sorted, as the project's ruff configuration says (the file
    goes through stdin, named, so its settings and first-party packages apply)."""
    argv = [ruff, "check", "--select", "I", "--fix", "--no-cache", "--exit-zero"]
    argv += ["--stdin-filename", name, "-"]
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
            f"ruff could not sort the imports of {name!r} ({why}: "
            f"{clip(result.stderr, 300) or 'no message'}); fix the file or the project's ruff "
            "settings, or leave fix_imports out",
            step_id=ctx.step_id,
        )
    return result.stdout


async def fix_imports(args: FixImportsArgs, ctx: SkillContext) -> SkillResult:
    """Sort each file's imports (``ruff check --select I --fix``, the project's own ruff
    first) and write the files that change, atomically; every other file keeps its bytes."""
    ruff = await asyncio.to_thread(require_tool, "ruff", ctx)
    changed: list[str] = []
    digest: dict[str, str] = {}
    for rel in dict.fromkeys(args.paths):
        target, name, data = await asyncio.to_thread(_read, ctx, rel)
        fixed = (await _sorted(ruff, ctx, name, data)).encode("utf-8")
        if fixed == data:
            continue
        # Sorting twice must change nothing more: ruff agrees with what it wrote.
        if (await _sorted(ruff, ctx, name, fixed)).encode("utf-8") != fixed:
            raise SkillError(
                f"ruff's import sorting of {name!r} does not settle (a second run changes it "
                "again); sort that file by hand or leave fix_imports out",
                step_id=ctx.step_id,
            )
        await asyncio.to_thread(_write, ctx, target, name, fixed)
        changed.append(name)
        digest[name] = hashlib.sha256(fixed).hexdigest()
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
