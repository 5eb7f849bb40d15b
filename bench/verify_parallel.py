"""Bench 4: ruff + mypy + pytest on a real medium repository, in parallel vs one after another.

The repository is phasegraph's own checkout (about 80 modules and 300 tests); the
verify skills leave it byte-for-byte untouched. The parallel side is a
phasegraph plan of the three verify steps (``strict``, so no baseline run
doubles the work); the serial side runs the same three skills in turn.
Prints the medians and the speed-up serial / parallel.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from common import emit, median_seconds, repeats

from phasegraph import RunOptions, SkillContext, build_orchestrator, default_registry, run_plan

ROOT = Path(__file__).resolve().parent.parent
CHECKS: list[dict[str, Any]] = [
    {"id": "ruff", "skill": "run_ruff", "args": {"paths": ["."]}},
    {"id": "mypy", "skill": "run_mypy", "args": {"paths": ["graph", "nodes", "skills", "recipes"]}},
    {"id": "pytest", "skill": "run_pytest", "args": {"paths": ["tests/graph", "tests/nodes"]}},
]


async def main(argv: list[str]) -> None:
    registry = default_registry()
    graph = build_orchestrator(registry)
    checks = CHECKS if "--smoke" not in argv else CHECKS[:1]
    plan = {"goal": "check the repository", "steps": checks}

    async def serial() -> None:
        for check in checks:
            skill = registry.get(check["skill"])
            assert skill is not None
            await skill.run(
                skill.parse_args(check["args"]), SkillContext(workspace=ROOT, step_id=check["id"])
            )

    async def parallel() -> None:
        report = await run_plan(graph, plan, ROOT, options=RunOptions(strict=True))
        assert {s.id for s in report.steps} == {c["id"] for c in checks}

    reps = repeats(argv, 3)
    one_by_one = await median_seconds(serial, reps)
    together = await median_seconds(parallel, reps)
    emit(
        {
            "bench": "verify_parallel",
            "checks": [c["id"] for c in checks],
            "serial_s": round(one_by_one, 2),
            "parallel_s": round(together, 2),
            "speedup": round(one_by_one / together, 2),
        }
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
