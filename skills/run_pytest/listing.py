"""The tests a run_pytest step would run, listed without running them (``pytest
--collect-only``): ``Skill.collect``, for a baseline taken after the writes
(:mod:`phasegraph.nodes.baseline_after`)."""

from __future__ import annotations

from typing import Any

from phasegraph.skills.base import SkillContext, SkillResult
from phasegraph.skills.checks import verify_env
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.run_pytest.command import pytest_argv, run_reported
from phasegraph.skills.run_pytest.not_run import not_run
from phasegraph.skills.run_pytest.results import failure
from phasegraph.skills.run_pytest.targeting import selected, what_to_run


async def listed(
    paths: list[str], options: list[str], targeted: bool, ctx: SkillContext
) -> SkillResult:
    """Every test a step with these ``paths``, ``options`` and ``targeted`` would run (a
    targeted one: its selection), listed on the tree as it is (the test modules imported, no
    test run). A suite that cannot be collected stops the run here, before any write. Its
    ``checked`` holds the node ids; ``data["reach"]`` the test files a targeted step listed
    (``None``: its whole suite)."""
    selection, run, targets = await what_to_run(paths, targeted, ctx)
    data: dict[str, Any] = {
        "reach": list(selection.files) if selection and selection.files else None,
        **({"selection": selection.as_data()} if selection else {}),
    }
    if run and not targets.present:
        summary = "pytest: none of the tests it would run exists yet"
        return SkillResult(ok=True, summary=summary, data=data)
    argv, _ = await pytest_argv(options, ctx, targets, "--collect-only", "-q")
    proc, records = await run_reported(ctx, argv, verify_env(ctx))
    ids = [str(i) for r in records if r.get("event") == "collected" for i in r.get("ids") or []]
    uncollected = [
        failure(str(r.get("nodeid") or "."), "collect", "error", r.get("longrepr"))
        for r in records
        if r.get("event") == "collect"
    ]
    why = not_run(ctx, proc, uncollected, [], False, True)
    if why:
        raise SkillError(why, step_id=ctx.step_id or None)
    which = f"; targeted: {selected(selection)}" if selection else ""
    summary = f"pytest: listed {plural(len(ids), 'test')}, to run once after the writes{which}"
    return SkillResult(ok=True, summary=clip(summary), data=data, checked=ids)
