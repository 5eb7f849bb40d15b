"""Targeted tests through the real graph: only the tests that import what the run writes run.

The project has three modules and three test files: ``beta`` imports ``alpha``, so an edit of
``alpha`` reaches ``test_alpha`` (directly) and ``test_beta`` (through ``beta``), never
``test_gamma``. pytest, git and the graph run for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore
from support.repos import git, require_program

from phasegraph import RunOptions, build_orchestrator, run_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.model.report import Report

MakeRepo = Callable[[dict[str, str]], Path]


def module_tests(module: str, count: int) -> str:
    body = "".join(
        f"\n\ndef test_{module}_{n}() -> None:\n    assert {module}.value() >= 0\n"
        for n in range(count)
    )
    return f"from pkg import {module}\n{body}"


PROJECT = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\ntestpaths = ['tests']\n",
    "src/pkg/__init__.py": "",
    "src/pkg/alpha.py": "def value() -> int:\n    return 1\n",
    "src/pkg/beta.py": "from pkg import alpha\n\n\ndef value() -> int:\n    return alpha.value()\n",
    "src/pkg/gamma.py": "def value() -> int:\n    return 3\n",
    "src/pkg/unused.py": "LIMIT = 10\n",
    "tests/test_alpha.py": module_tests("alpha", 3),
    "tests/test_beta.py": module_tests("beta", 2),
    "tests/test_gamma.py": module_tests("gamma", 4),
}
TARGETED = {"id": "tests", "skill": "run_pytest", "args": {"targeted": True}}
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "change"}}


def edit(path: str, search: str, replace: str) -> dict[str, Any]:
    return {
        "id": "edit",
        "skill": "edit_block",
        "args": {"path": path, "search": search, "replace": replace},
    }


ALPHA_DOC = edit("src/pkg/alpha.py", "def value", "# The first value.\ndef value")
SELECTED = "2 of 3 test files (tests/test_alpha.py, tests/test_beta.py)"


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


async def run(repo: Path, *steps: dict[str, Any]) -> tuple[Report, dict[str, Any]]:
    """Run the plan through the real graph; the report and the stored output of ``tests``."""
    store = InMemoryStore()
    plan = parse_plan({"goal": "targeted", "steps": list(steps)})
    report = await run_plan(build_orchestrator(store=store), plan, repo, options=RunOptions())
    [output] = [i.value for i in await store.asearch(("phasegraph", "outputs")) if i.key == "tests"]
    return report, output


def summary(report: Report, step_id: str) -> str:
    return next(s.summary for s in [*report.steps, *report.baselines] if s.id == step_id)


async def test_an_edit_of_one_module_runs_only_the_tests_that_import_it(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(PROJECT)

    report, output = await run(repo, ALPHA_DOC, TARGETED, COMMIT)

    assert report.status == "completed", report.error
    selection = output["data"]["selection"]
    assert selection["files"] == ["tests/test_alpha.py", "tests/test_beta.py"]
    assert selection["why"] == {
        "tests/test_alpha.py": "imports pkg.alpha (written: src/pkg/alpha.py)",
        "tests/test_beta.py": (
            "imports pkg.beta, which imports pkg.alpha (written: src/pkg/alpha.py)"
        ),
    }
    assert selection["fallback"] is None
    # pytest ran the 3 + 2 tests of the two files, not test_gamma's 4.
    assert output["data"]["counts"]["passed"] == 5
    assert sum(output["data"]["counts"].values()) == 5
    # The report lists the selection.
    assert summary(report, "tests") == f"pytest: 5 passed; targeted: {SELECTED}"


async def test_a_breaking_edit_is_still_caught_by_the_selected_tests(make_repo: MakeRepo) -> None:
    repo = make_repo(PROJECT)

    breaking = edit("src/pkg/alpha.py", "return 1", "return -5")
    report, _ = await run(repo, breaking, TARGETED, COMMIT)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    found = sorted(f.finding for f in report.new_findings["tests"])
    assert found == [
        "tests/test_alpha.py::test_alpha_0",
        "tests/test_alpha.py::test_alpha_1",
        "tests/test_alpha.py::test_alpha_2",
        "tests/test_beta.py::test_beta_0",
        "tests/test_beta.py::test_beta_1",
    ]
    assert report.commit is None


async def test_an_edit_no_test_imports_falls_back_to_the_whole_suite(make_repo: MakeRepo) -> None:
    repo = make_repo(PROJECT)

    report, output = await run(repo, edit("src/pkg/unused.py", "10", "20"), TARGETED, COMMIT)

    assert report.status == "completed", report.error
    assert output["data"]["selection"]["files"] == []
    assert output["data"]["selection"]["fallback"] == "nothing selected: whole suite"
    assert output["data"]["counts"]["passed"] == 3 + 2 + 4  # never zero tests
    assert summary(report, "tests") == "pytest: 9 passed; targeted: nothing selected: whole suite"


async def test_a_test_file_the_run_writes_is_run(make_repo: MakeRepo) -> None:
    repo = make_repo(PROJECT)
    new_test = {
        "id": "new",
        "skill": "write_file",
        "args": {"path": "tests/test_new.py", "content": module_tests("gamma", 1)},
    }

    report, output = await run(repo, new_test, TARGETED, COMMIT)

    assert report.status == "completed", report.error
    assert output["data"]["selection"]["files"] == ["tests/test_new.py"]
    assert output["data"]["counts"]["passed"] == 1


async def test_the_baseline_runs_the_same_selection(make_repo: MakeRepo) -> None:
    repo = make_repo(PROJECT)

    report, _ = await run(repo, ALPHA_DOC, TARGETED, COMMIT)

    assert report.status == "completed", report.error
    # Like with like: the baseline lists the same two files' tests that the check runs (all
    # passed after the writes, so none ran again on the earlier tree).
    listed = f"pytest: listed 5 tests, to run once after the writes; targeted: {SELECTED}"
    assert summary(report, "baseline:tests") == listed
    assert summary(report, "tests") == f"pytest: 5 passed; targeted: {SELECTED}"


async def test_the_report_lists_every_selected_file_with_why_and_those_left_out(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(PROJECT)

    report, _ = await run(repo, ALPHA_DOC, TARGETED, COMMIT)

    assert report.status == "completed", report.error
    selection = report.selections["tests"]
    assert selection["files"] == ["tests/test_alpha.py", "tests/test_beta.py"]
    assert set(selection["why"]) == {"tests/test_alpha.py", "tests/test_beta.py"}
    assert "src/pkg/alpha.py" in selection["why"]["tests/test_beta.py"]  # through pkg.beta
    assert selection["left_out_files"] == ["tests/test_gamma.py"]

    # The CLI prints them all, each with why, and the JSON report keeps them.
    cli = [sys.executable, "-m", "phasegraph.cli.main"]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"goal": "doc", "steps": [ALPHA_DOC, TARGETED]}))
    git(repo, "checkout", "-q", "HEAD~1")
    out = subprocess.run(
        [*cli, "run", str(plan), "-w", str(repo), "--report", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "tests targeted: 2 of 3 test files" in out.stdout
    for name in selection["files"]:
        assert f"  {name} — {selection['why'][name]}" in out.stdout
    assert "left out: 1 test files" in out.stdout
    kept = json.loads((tmp_path / "r.json").read_text())["selections"]["tests"]
    assert kept["left_out_files"] == ["tests/test_gamma.py"]
