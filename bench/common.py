"""What the bench scripts share: no-op skills, medians, one JSON line per result."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from phasegraph import (
    PathArg,
    SkillArgs,
    SkillContext,
    SkillRegistry,
    SkillResult,
    default_registry,
)


class NoopArgs(SkillArgs):
    n: int = 0


class NoopWriteArgs(SkillArgs):
    path: Annotated[str, PathArg()] = "noop"


def noop_registry() -> SkillRegistry:
    """The built-ins plus ``noop_read`` and ``noop_write``, which do nothing at all."""
    registry = default_registry()

    @registry.skill("noop_read", kind="read", args=NoopArgs)
    async def noop_read(args: NoopArgs, ctx: SkillContext) -> SkillResult:
        return SkillResult(summary="nothing")

    @registry.skill("noop_write", kind="write", args=NoopWriteArgs)
    async def noop_write(args: NoopWriteArgs, ctx: SkillContext) -> SkillResult:
        return SkillResult(summary="nothing")

    return registry


async def median_seconds(run: Callable[[], Awaitable[Any]], repeats: int) -> float:
    """The median wall time of ``repeats`` runs, after one warm-up run."""
    [median] = await interleaved_medians([run], repeats)
    return median


async def interleaved_medians(
    runs: list[Callable[[], Awaitable[Any]]], repeats: int
) -> list[float]:
    """The median wall time of each of ``runs``, taken in turns (``repeats`` rounds after one
    warm-up round), so that the machine's noise, which drifts over seconds, weighs on each
    alike."""
    times: list[list[float]] = [[] for _ in runs]
    for round_ in range(repeats + 1):
        for run, kept in zip(runs, times, strict=True):
            started = time.perf_counter()
            await run()
            if round_:
                kept.append(time.perf_counter() - started)
    return [statistics.median(kept) for kept in times]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def emit(result: dict[str, Any]) -> None:
    """One result as one JSON line on stdout."""
    sys.stdout.write(json.dumps({**result, "machine": machine()}) + "\n")
    sys.stdout.flush()


def sizes(argv: list[str], default: list[int]) -> list[int]:
    """``--sizes 5,20`` from the command line, else ``default``."""
    if "--sizes" in argv:
        return [int(x) for x in argv[argv.index("--sizes") + 1].split(",")]
    return default


def repeats(argv: list[str], default: int) -> int:
    return int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else default


def doc_edit(module: int, step_id: str = "doc") -> dict[str, Any]:
    """The harmless edit the real-project benches make: a comment above a module's function."""
    return {
        "id": step_id,
        "skill": "edit_block",
        "args": {
            "path": f"src/pkg/mod{module}.py",
            "search": f"def work_{module}",
            "replace": f"# The work of module {module}.\ndef work_{module}",
        },
    }


DOC_EDIT = doc_edit(0)
