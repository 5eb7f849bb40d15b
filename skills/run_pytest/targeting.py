"""Which tests a run_pytest step runs: its paths, or, for a targeted step, the test files that
reach the run's planned writes (:mod:`phasegraph.skills.python.selection`) widened to what its
baseline ran; and how that selection reads in the step's summary."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from phasegraph.skills.base import SkillContext
from phasegraph.skills.checks import Targets, cache_dir, split_targets
from phasegraph.skills.core.text import plural
from phasegraph.skills.python.selection import Selection, select_tests


def by_writes(args: Mapping[str, Any]) -> bool:
    """Whether a run_pytest step with ``args`` is targeted: it needs the run's planned writes
    (:attr:`SkillContext.planned_files`) before it runs, baseline too."""
    return args.get("targeted") is True


def narrowed(args: Mapping[str, Any], tests: list[str]) -> dict[str, Any]:
    """``args`` narrowed to run only ``tests`` (node ids, or test files skipped whole), with
    the step's options."""
    return {**args, "paths": list(tests), "targeted": False}


#: Environment variables through which pytest takes options and plugins.
_ENV_OPTIONS = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")

#: Why a targeted step runs the whole suite when it is not told the run's writes.
WRITES_UNKNOWN = "the run's writes are not known yet: whole suite"


def _selection(paths: list[str], ctx: SkillContext) -> Selection:
    if ctx.planned_files is None:
        return Selection((), {}, WRITES_UNKNOWN)
    env = ctx.subprocess_env()
    hidden = [name for name in _ENV_OPTIONS if env.get(name, "").strip()]
    if hidden:
        return Selection(
            (),
            {},
            f"{' and '.join(hidden)} set (pytest options the selection cannot see): whole suite",
        )
    cache = cache_dir(ctx, "test-selection")
    found = select_tests(ctx.workspace, ctx.planned_files, paths=paths, cache=cache)
    return with_baseline(found, ctx.selected_before)


#: Why a targeted check after the writes ran the whole suite although it selected fewer.
BASELINE_WHOLE = "its baseline ran the whole suite: whole suite"


def with_baseline(found: Selection, before: tuple[str, ...] | None) -> Selection:
    """``found`` widened to what the baseline ran (``before``; ``()``: the whole suite): the
    written files read differently before and after the writes, and a test the baseline
    passed that the check after them did not run would read as lost."""
    if before is None or not found.files:
        return found
    if not before:
        return dataclasses.replace(found, files=(), why={}, fallback=BASELINE_WHOLE, left_out=())
    extra = [f for f in before if f not in found.files]
    why = {**found.why, **{f: "run by the baseline" for f in extra if f not in found.why}}
    files = tuple(sorted({*found.files, *extra}))
    left_out = tuple(f for f in found.left_out if f not in why)
    return dataclasses.replace(found, files=files, why=why, left_out=left_out)


async def what_to_run(
    paths: list[str], targeted: bool, ctx: SkillContext
) -> tuple[Selection | None, list[str], Targets]:
    """A targeted step's selection (else ``None``), the paths pytest gets, and those paths
    confined to the workspace and split into present and missing. Filesystem calls go to a
    worker thread: never a blocking call on the event loop."""
    selection = await asyncio.to_thread(_selection, paths, ctx) if targeted else None
    run = list(selection.files) if selection and selection.files else paths
    return selection, run, await asyncio.to_thread(split_targets, ctx, run, node_ids=True)


#: How much of a summary line the selected files' names may take: the step's data lists
#: them all, each with why (``data["selection"]``), so the line names what fits and counts
#: the rest rather than being cut in the middle of a name.
_NAMES_ROOM = 100


def selected(selection: Selection) -> str:
    """``2 of 10 test files (tests/test_a.py, tests/test_b.py)``, ``12 of 40 test files
    (tests/test_a.py and 11 more)``, or why the whole suite ran."""
    if selection.fallback:
        return selection.fallback
    files = selection.files
    shown: list[str] = []
    for name in files:
        if shown and len(", ".join([*shown, name])) > _NAMES_ROOM:
            break
        shown.append(name)
    more = f" and {len(files) - len(shown)} more" if len(shown) < len(files) else ""
    names = f"{', '.join(shown)}{more}"
    return f"{len(files)} of {plural(selection.considered, 'test file')} ({names})"
