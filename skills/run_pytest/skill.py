"""The run_pytest skill: run the tests, report failing node ids as stable findings.

Its args model and :data:`SKILL`, and the run itself; the package's other modules hold the
parts: the options a plan may pass (:mod:`~phasegraph.skills.run_pytest.options`), what a
step runs (:mod:`~phasegraph.skills.run_pytest.targeting`), the command line and its run
(:mod:`~phasegraph.skills.run_pytest.command`), what its report says
(:mod:`~phasegraph.skills.run_pytest.results`) and the listing of what it would run
(:mod:`~phasegraph.skills.run_pytest.listing`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import Field, field_validator

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.checks import verify_env
from phasegraph.skills.core.text import clip
from phasegraph.skills.run_pytest.command import pytest_argv, run_reported, start_ahead
from phasegraph.skills.run_pytest.listing import listed
from phasegraph.skills.run_pytest.options import check_pytest_args
from phasegraph.skills.run_pytest.results import result_of
from phasegraph.skills.run_pytest.targeting import by_writes, narrowed, selected, what_to_run

SKILL_NAME = "run_pytest"


class RunPytestArgs(SkillArgs):
    """Arguments of ``run_pytest``."""

    #: Test files, folders or node ids (``tests/test_x.py::test_y``); empty means
    #: pytest's own default (``testpaths`` or the workspace).
    paths: Annotated[list[str], PathArg()] = Field(default_factory=list)
    #: Extra pytest arguments, e.g. ``["-k", "parser", "-x"]``.
    args: list[str] = Field(default_factory=list)
    #: Run only the test files (within ``paths``) that reach what the run writes, plus the
    #: test files it writes; the whole suite, saying why, wherever the static graph cannot
    #: see (see :mod:`phasegraph.skills.python.selection`).
    targeted: bool = False

    @field_validator("args")
    @classmethod
    def _safe_args(cls, value: list[str]) -> list[str]:
        return check_pytest_args(value)


async def run_pytest(args: RunPytestArgs, ctx: SkillContext) -> SkillResult:
    """Run pytest with the project's interpreter, no cache and no bytecode, so the workspace
    stays byte-for-byte the same; a suite that could not really run is an error, never green."""
    selection, paths, targets = await what_to_run(args.paths, args.targeted, ctx)
    missing = targets.missing
    picked = {"selection": selection.as_data()} if selection else {}
    if paths and not targets.present:
        return SkillResult(
            ok=False,
            summary=clip(f"pytest: nothing to run, not found: {', '.join(missing)}"),
            data={"missing": missing, **picked},
            findings=list(missing),
        )
    argv, dropped = await pytest_argv(args.args, ctx, targets)
    proc, records = await run_reported(ctx, argv, verify_env(ctx))
    result = await asyncio.to_thread(result_of, ctx, proc, records, missing)
    notes = [f"targeted: {selected(selection)}"] if selection else []
    if dropped:
        notes.append(f"ran without {' '.join(dropped)} (a check runs every selected test)")
    if not notes:
        return result
    summary = clip("; ".join([result.summary, *notes]))
    data = {**result.data, **picked, "dropped_options": dropped}
    return result.model_copy(update={"summary": summary, "data": data})


async def collect_listed(args: RunPytestArgs, ctx: SkillContext) -> SkillResult:
    """Every test the step would run, listed without running it
    (:func:`~phasegraph.skills.run_pytest.listing.listed`)."""
    return await listed(args.paths, args.args, args.targeted, ctx)


SKILL = Skill(
    name=SKILL_NAME,
    kind=SkillKind.VERIFY,
    args_model=RunPytestArgs,
    fn=run_pytest,
    description="Run pytest; findings are the failing test node ids",
    programs=(),
    ahead=start_ahead,
    collect=collect_listed,
    needs_module="pytest",
    by_writes=by_writes,
    narrowed=narrowed,
)
