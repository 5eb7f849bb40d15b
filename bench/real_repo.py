"""Bench 5: a whole run on a generated project with its own venv, against running pytest once.

The project has ``--tests`` tests (100 by default) over ten modules and its own
``.venv`` (pytest installed there, phasegraph not). The run is the plan a user
would write: one harmless edit, the project's pytest, a commit. With ``--baseline auto`` (the
default) a green first run lists the tests before the edit and runs the suite once after it; a
red one runs again, on the tree as it was before the run, only the tests that failed; with
``--baseline before`` the suite runs on the untouched tree first, then after the edit. "pytest
once" is the project's own ``.venv/bin/python -m pytest``, started from this same process.
A re-run on the same tree reuses the kept baselines (``.phasegraph/baselines``) and pays
for the suite once, and so does a run on top of another run's commit (its checks are kept as
that commit's baselines). Prints the medians and their ratios to "pytest once": a green first
run (no kept baseline), a red first run (an edit that breaks a module's tests: the gate
blocks), a re-run, and a chained run (each editing its own module).
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

from common import doc_edit, emit, interleaved_medians, repeats

from phasegraph import RunOptions, build_orchestrator, run_plan

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@phasegraph.invalid"]

MODULE = '''"""Module {m} of the generated project."""


def work_{m}(n: int) -> int:
    return sum(i * i for i in range(n)) % 97
'''

TEST = """import pytest

from pkg.mod{m} import work_{m}


@pytest.mark.parametrize("n", range({count}))
def test_work_{m}(n: int) -> None:
    assert 0 <= work_{m}(100_000 + n) < 97
"""


def make_project(root: Path, tests: int) -> tuple[Path, str]:
    """A git repository with ten modules, ``tests`` tests and its own .venv; and its HEAD."""
    repo = root / "project"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "src" / "pkg" / "__init__.py").write_text("")
    per_module = max(1, tests // 10)
    for m in range(10):
        (repo / "src" / "pkg" / f"mod{m}.py").write_text(MODULE.format(m=m))
        (repo / "tests" / f"test_mod{m}.py").write_text(TEST.format(m=m, count=per_module))
    (repo / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n'
    )
    (repo / ".gitignore").write_text(".venv/\n")
    subprocess.run([sys.executable, "-m", "venv", str(repo / ".venv")], check=True)
    pip = [str(repo / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", "pytest"]
    subprocess.run(pip, check=True)
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "generated"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    )
    return repo, head.stdout.strip()


async def main(argv: list[str]) -> None:
    tests = int(argv[argv.index("--tests") + 1]) if "--tests" in argv else 100
    reps = repeats(argv, 3)
    # When the baselines run: "auto" (the default) or "before" (the whole suite first).
    options = RunOptions(
        baseline=argv[argv.index("--baseline") + 1] if "--baseline" in argv else "auto"
    )  # type: ignore[arg-type]
    root = Path(tempfile.mkdtemp(prefix="phasegraph-bench-real-"))
    try:
        repo, base = make_project(root, tests)
        graph = build_orchestrator()
        plan = module_plan(0)

        async def pytest_once() -> None:
            proc = await asyncio.create_subprocess_exec(
                str(repo / ".venv" / "bin" / "python"),
                *("-m", "pytest", "-q", "-p", "no:cacheprovider"),
                cwd=repo,
                stdout=asyncio.subprocess.DEVNULL,
            )
            assert await proc.wait() == 0

        async def phasegraph_run(*, first: bool) -> None:
            # Back to the generated commit (a few ms): each run makes the same edit and commit.
            reset = [*GIT, "reset", "-q", "--hard", base]
            await asyncio.to_thread(subprocess.run, reset, cwd=repo, check=True)
            if first:  # a first run on this tree: no kept baseline
                shutil.rmtree(repo / ".phasegraph" / "baselines", ignore_errors=True)
            report = await run_plan(graph, plan, repo, options=options)
            assert report.status == "completed", report.error
            assert report.interpreter.source == ".venv"
            reused = report.baselines[0].summary.startswith("reused")
            assert reused is not first

        async def red_run() -> None:
            """A first run whose edit breaks module 1's tests: the gate blocks, nothing commits."""
            shutil.rmtree(repo / ".phasegraph" / "baselines", ignore_errors=True)
            report = await run_plan(graph, breaking_plan(), repo, options=options)
            assert report.status == "stopped" and report.failure_kind == "gate", report.error
            reset = [*GIT, "reset", "-q", "--hard", base]  # the next timing needs a green tree
            await asyncio.to_thread(subprocess.run, reset, cwd=repo, check=True)

        async def chained() -> float:
            """Runs one on top of another's commit, each editing its own module: the median."""
            reset = [*GIT, "reset", "-q", "--hard", base]
            await asyncio.to_thread(subprocess.run, reset, cwd=repo, check=True)
            shutil.rmtree(repo / ".phasegraph" / "baselines", ignore_errors=True)
            times = []
            for k in range(min(reps, 9) + 1):
                started = time.perf_counter()
                report = await run_plan(graph, module_plan(k), repo, options=options)
                times.append(time.perf_counter() - started)
                assert report.status == "completed", report.error
                reused = report.baselines[0].summary.startswith("reused")
                assert reused is (k > 0)  # the first of the chain has no earlier run to reuse
            return statistics.median(times[1:])

        started = time.perf_counter()
        once, run, rerun, red = await interleaved_medians(
            [
                pytest_once,
                lambda: phasegraph_run(first=True),
                lambda: phasegraph_run(first=False),
                red_run,
            ],
            reps,
        )
        chain = await chained()
        emit(
            {
                "bench": "real_repo",
                "baseline": options.baseline,
                "tests": per_run_tests(tests),
                "pytest_once_s": round(once, 2),
                "phasegraph_run_s": round(run, 2),
                "ratio": round(run / once, 2),
                "red_run_s": round(red, 2),
                "red_ratio": round(red / once, 2),
                "rerun_s": round(rerun, 2),
                "rerun_ratio": round(rerun / once, 2),
                "chained_s": round(chain, 2),
                "chained_ratio": round(chain / once, 2),
                "bench_s": round(time.perf_counter() - started, 1),
            }
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def module_plan(k: int) -> dict[str, Any]:
    """Document module ``k``, run the project's pytest, commit."""
    return {
        "goal": f"document module {k}",
        "steps": [
            doc_edit(k, f"doc{k}"),
            {"id": "tests", "skill": "run_pytest"},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": f"doc {k}"}},
        ],
    }


def breaking_plan() -> dict[str, Any]:
    """Break module 1 (its tests fail), run the project's pytest, commit (never reached)."""
    edit = {
        "id": "break",
        "skill": "edit_block",
        "args": {"path": "src/pkg/mod1.py", "search": "% 97", "replace": "% 97 + 97"},
    }
    return {
        "goal": "break module 1",
        "steps": [
            edit,
            {"id": "tests", "skill": "run_pytest"},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "break"}},
        ],
    }


def per_run_tests(tests: int) -> int:
    return max(1, tests // 10) * 10


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
