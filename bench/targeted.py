"""Bench: a run's pytest time with ``run_pytest {targeted: true}`` against the whole suite.

A generated project of ten modules with ten tests each (100 tests; every test sleeps a
little, so pytest's own time dominates) gets one harmless edit of one module. The same plan
runs twice per repeat: once with a plain ``run_pytest`` (the whole suite, baseline and
after), once targeted (only the test file importing that module). Kept baselines are off,
so each run pays for both of its pytest runs. Prints the medians of the pytest time (the
baseline and the after-run rows of the report) and their ratio (target: 0.3 or less), and
the same for the after-run check alone. ``--small``: 2 modules x 2 tests, for the smoke test.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DOC_EDIT, emit, repeats

from phasegraph import Report, RunOptions, build_orchestrator, run_plan

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@phasegraph.invalid"]

MODULE = '''"""Module {m} of the generated project."""


def work_{m}(n: int) -> int:
    return n * {m}
'''

TEST = """import time

import pytest

from pkg.mod{m} import work_{m}


@pytest.mark.parametrize("n", range({count}))
def test_work_{m}(n: int) -> None:
    time.sleep({sleep})
    assert work_{m}(n) == n * {m}
"""


def make_project(root: Path, modules: int, per_module: int, sleep: float) -> tuple[Path, str]:
    """A git repository with ``modules`` modules and ``per_module`` tests each; and its HEAD."""
    repo = root / "project"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "src" / "pkg" / "__init__.py").write_text("")
    for m in range(modules):
        (repo / "src" / "pkg" / f"mod{m}.py").write_text(MODULE.format(m=m))
        test = TEST.format(m=m, count=per_module, sleep=sleep)
        (repo / "tests" / f"test_mod{m}.py").write_text(test)
    (repo / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n'
    )
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "generated"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    )
    return repo, head.stdout.strip()


def plan(targeted: bool) -> dict[str, Any]:
    tests: dict[str, Any] = {"id": "tests", "skill": "run_pytest"}
    if targeted:
        tests["args"] = {"targeted": True}
    return {
        "goal": "document module 0",
        "steps": [
            DOC_EDIT,
            tests,
        ],
    }


def pytest_seconds(report: Report) -> tuple[float, float]:
    """(baseline + after-run, after-run) pytest seconds, from the report's rows."""
    after = sum(s.duration or 0.0 for s in report.steps if s.id == "tests")
    baseline = sum(s.duration or 0.0 for s in report.baselines if s.id == "baseline:tests")
    return baseline + after, after


async def main(argv: list[str]) -> None:
    small = "--small" in argv
    modules, per_module, sleep = (2, 2, 0.01) if small else (10, 10, 0.08)
    reps = repeats(argv, 1 if small else 3)
    root = Path(tempfile.mkdtemp(prefix="phasegraph-bench-targeted-"))
    try:
        repo, base = make_project(root, modules, per_module, sleep)
        graph = build_orchestrator()
        options = RunOptions(baseline_cache=False)
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        summaries: dict[bool, str] = {}
        baseline = ""
        started = time.perf_counter()
        for _ in range(reps):
            for targeted in (False, True):
                reset = [*GIT, "reset", "-q", "--hard", base]
                await asyncio.to_thread(subprocess.run, reset, cwd=repo, check=True)
                report = await run_plan(graph, plan(targeted), repo, options=options)
                assert report.status == "completed", report.error
                times[targeted].append(pytest_seconds(report))
                summaries[targeted] = next(s.summary for s in report.steps if s.id == "tests")
                if targeted:
                    baseline = next(s.summary for s in report.baselines)
        full = statistics.median(t for t, _ in times[False])
        aimed = statistics.median(t for t, _ in times[True])
        full_after = statistics.median(a for _, a in times[False])
        aimed_after = statistics.median(a for _, a in times[True])
        emit(
            {
                "bench": "targeted",
                "tests": modules * per_module,
                "full_pytest_s": round(full, 2),
                "targeted_pytest_s": round(aimed, 2),
                "ratio": round(aimed / full, 2),
                "full_after_s": round(full_after, 2),
                "targeted_after_s": round(aimed_after, 2),
                "after_ratio": round(aimed_after / full_after, 2),
                "targeted_summary": summaries[True],
                # Whether the baseline ran the same selection, or the whole suite.
                "targeted_baseline_summary": baseline,
                "bench_s": round(time.perf_counter() - started, 1),
            }
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
