"""format: ``ruff format`` on the files the run wrote, by the project's settings, verified.

With no ``files`` a ``format`` step formats every Python file the run's earlier write steps
target: the writer and the dry run name them (:func:`with_earlier_files`) before the step
runs, so its files are journalled, pre-imaged and refused when they hold the user's work
like any write's.

It formats only where the project formats with ruff (:func:`ruff_format_use`), by these
signs, the first that applies deciding:

1. ruff format is named: a pre-commit hook running it (``ruff-format``, or an ``entry``
   running ``ruff format``), a tox environment or nox session running ``ruff format``, or a
   ``[tool.ruff.format]`` table (``[format]`` in ``ruff.toml``/``.ruff.toml``): it formats.
2. Another formatter is named (black, blue, yapf, autopep8: a pre-commit hook, a tox or nox
   command, a ``[tool.black]``-style table, or black in the project's environment): skipped.
3. The pre-commit config runs ``ruff check`` but no ruff format: skipped (the project lints
   with ruff, and formats by other means or not at all).
4. ruff is configured (``[tool.ruff]``, ``ruff.toml``, ``.ruff.toml``) or installed in the
   project's environment: it formats.
5. No sign of ruff at all: skipped.

A skipped step succeeds, writes nothing and says why in its summary. Files that are not
Python (``.py``, ``.pyi``) are left alone, and ruff's own ``exclude`` settings hold
(``--force-exclude``; a file is first checked by its path, as ruff applies
``[tool.ruff.format] exclude`` only there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import Field

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.checks import as_argument, require_tool, verify_env
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.fix_imports import rewrite_with_ruff
from phasegraph.skills.guards.procs import run_program
from phasegraph.skills.guards.workspace import read_toml, relative_name, resolve_in_workspace
from phasegraph.skills.python.checkers.command_words import tool_args
from phasegraph.skills.python.checkers.precommit import precommit_hooks
from phasegraph.skills.python.checkers.runner_commands import nox_commands, tox_commands
from phasegraph.skills.python.syntax import PYTHON_SUFFIXES

NAME = "format"
#: ``ruff format`` by the project's settings, its excludes holding for the named file.
FORMAT = ("format", "--no-cache", "--force-exclude")
#: Whether a file, named by its path, wants formatting: exit 1 when it does, 0 when it is
#: formatted already or excluded.
CHECK = ("format", "--check", "--no-cache", "--force-exclude")
#: Formatters other than ruff's, and the ``pyproject.toml`` tables that configure them.
OTHER_FORMATTERS = ("black", "blue", "yapf", "autopep8")


class FormatArgs(SkillArgs):
    """Arguments of :func:`format_files`."""

    #: The files to format, relative to the workspace; empty: every Python file the run's
    #: earlier write steps target.
    files: Annotated[list[str], PathArg()] = Field(default_factory=list)


def with_earlier_files(step: Mapping[str, Any], earlier: Sequence[str]) -> dict[str, Any]:
    """``step`` as it runs: a ``format`` step naming no files names the Python files among
    ``earlier`` (the files the run's earlier write steps target); any other step as it is."""
    args = dict(step.get("args") or {})
    if step.get("skill") != NAME or args.get("files"):
        return dict(step)
    python = [rel for rel in dict.fromkeys(earlier) if PurePosixPath(rel).suffix in PYTHON_SUFFIXES]
    return {**step, "args": {**args, "files": python}}


def ruff_format_use(workspace: Path, ctx: SkillContext) -> tuple[bool, str]:
    """Whether the project formats with ruff, and the sign that says so (see the module's
    docstring for the order). Blocking (files)."""
    hooks = precommit_hooks(workspace) or []
    commands = tox_commands(workspace) + nox_commands(workspace)
    pyproject = read_toml(workspace / "pyproject.toml").get("tool", {})
    ruff_toml = next(
        (name for name in ("ruff.toml", ".ruff.toml") if (workspace / name).is_file()), None
    )
    # 1. ruff format named
    for hook in hooks:
        if hook.tool_args("ruff", "format") is not None:
            return True, f"{hook.config} runs ruff format (hook {hook.id})"
    for where, words in commands:
        if tool_args(words, "ruff", "format") is not None:
            return True, f"{where} runs ruff format"
    if isinstance(pyproject.get("ruff"), dict) and "format" in pyproject["ruff"]:
        return True, "pyproject.toml has [tool.ruff.format]"
    if ruff_toml and "format" in read_toml(workspace / ruff_toml):
        return True, f"{ruff_toml} has [format]"
    # 2. another formatter named
    for name in OTHER_FORMATTERS:
        for hook in hooks:
            if hook.tool_args(name) is not None:
                return False, f"the project formats with {name} ({hook.config} hook {hook.id})"
        for where, words in commands:
            if tool_args(words, name) is not None:
                return False, f"the project formats with {name} ({where})"
        if name in pyproject:
            return False, f"the project formats with {name} ([tool.{name}] in pyproject.toml)"
    if ctx.python.project_tool("black"):
        return False, "the project formats with black (installed in its environment)"
    # 3. pre-commit lints with ruff and does not format with it
    linting = [hook for hook in hooks if hook.tool_args("ruff", "check") is not None]
    if linting:
        return False, f"{linting[0].config} runs ruff check but not ruff format"
    # 4. ruff configured or installed
    if isinstance(pyproject.get("ruff"), dict):
        return True, "pyproject.toml configures ruff ([tool.ruff]) and no other formatter"
    if ruff_toml:
        return True, f"{ruff_toml} configures ruff and no other formatter"
    if ctx.python.project_tool("ruff"):
        return True, "ruff is installed in the project's environment and no other formatter"
    return False, (
        "no sign the project uses ruff format (no ruff configuration, no ruff in its "
        "environment, pre-commit hooks, tox or nox)"
    )


async def _unformatted(ctx: SkillContext, files: list[str]) -> list[str]:
    """The files ``ruff format --check`` would change (or cannot read, which formatting them
    then reports): given by path, so every exclude of the project's holds, ``[tool.ruff.format]
    exclude`` too, which ruff does not apply to a file read from stdin."""
    ruff = await asyncio.to_thread(require_tool, "ruff", ctx)
    out: list[str] = []
    for rel in files:
        # Confined before ruff reads it: a symlink out of the workspace is refused here.
        target = await asyncio.to_thread(
            resolve_in_workspace, ctx.workspace, rel, step_id=ctx.step_id, must_exist=True
        )
        name = relative_name(ctx.workspace, target)
        proc = await run_program(
            [ruff, *CHECK, "--", as_argument(name)],
            cwd=ctx.workspace,
            timeout=ctx.timeout,
            env=verify_env(ctx),
            output_cap=ctx.output_cap,
        )
        if proc.returncode != 0 or proc.timed_out:
            out.append(name)
    return out


async def format_files(args: FormatArgs, ctx: SkillContext) -> SkillResult:
    """Format each Python file (``ruff format``, the project's own ruff first, its settings
    and excludes) and write the files that change, atomically and read back; every other
    file keeps its bytes. Skipped, writing nothing, where the project does not format with
    ruff."""
    python = [f for f in dict.fromkeys(args.files) if PurePosixPath(f).suffix in PYTHON_SUFFIXES]
    others = [f for f in dict.fromkeys(args.files) if f not in python]
    left = f"; not Python, left alone: {', '.join(others)}" if others else ""
    data: dict[str, Any] = {"changed": [], "checked": python, "not_python": others}
    if not python:
        none = (
            "no Python files to format"
            if args.files
            else "no files to format (no earlier write of the run names a Python file)"
        )
        return SkillResult(summary=clip(f"format: {none}{left}"), data=data)
    uses, why = await asyncio.to_thread(ruff_format_use, ctx.workspace, ctx)
    data["ruff_format"] = {"used": uses, "why": why}
    if not uses:
        return SkillResult(summary=clip(f"format: skipped, {why}"), data=data)
    changed, digest = await rewrite_with_ruff(
        ctx, await _unformatted(ctx, python), FORMAT, "format"
    )
    summary = (
        f"formatted {plural(len(changed), 'file')} with ruff format: {', '.join(changed)}"
        if changed
        else f"already formatted (or excluded by ruff's settings): {plural(len(python), 'file')}"
    )
    return SkillResult(
        summary=clip(f"format: {summary} ({why}){left}"),
        data={**data, "changed": changed, "sha256s": digest},
        files_written=changed,
    )


SKILL = Skill(
    name=NAME,
    kind=SkillKind.WRITE,
    args_model=FormatArgs,
    fn=format_files,
    description="Format Python files with ruff format by the project's settings (default: the "
    "files the run's earlier writes wrote); skipped where the project does not use ruff format",
    programs=("ruff",),
)
