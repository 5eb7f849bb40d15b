"""The after-run's pytest started during the baseline, in whole runs: it runs the suite the
writes left (after a reused baseline too), a write that changes how pytest itself would start
is met by a cold start, and a run that stops before its after-run leaves nothing behind (no
process, no temporary folder)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testkit import git, launchers_in, run_collecting

from phasegraph.skills import pytest_ahead

MakeRepo = Callable[[dict[str, str]], Path]

# The test writes down what it saw: lib's greeting and how its interpreter was started.
PROBE = """import json, os, sys

from lib import GREETING


def test_probe():
    with open(os.environ["PHASEGRAPH_TEST_PROBE"], "a") as out:
        out.write(json.dumps({"greeting": GREETING, "argv": sys.orig_argv}) + "\\n")
"""
FILES = {
    "lib.py": 'GREETING = "hello"\n',
    "test_probe.py": PROBE,
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
}


def plan(*writes: dict[str, Any]) -> dict[str, Any]:
    return {"goal": "greet", "steps": [*writes, {"id": "tests", "skill": "run_pytest"}]}


GREET = {
    "id": "greet",
    "skill": "edit_block",
    "args": {"path": "lib.py", "search": '"hello"', "replace": '"hi"'},
}


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "probe.jsonl"
    monkeypatch.setenv("PHASEGRAPH_TEST_PROBE", str(out))
    return out


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the run's temporary folders go to (the reporter plugin's among them)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def started_ahead(seen: dict[str, Any]) -> bool:
    return any(pytest_ahead.MARK in arg for arg in seen["argv"])


async def test_the_after_run_runs_ahead_on_the_tree_the_writes_left(
    make_repo: MakeRepo, probe: Path, temp_root: Path
) -> None:
    repo = make_repo(FILES)
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "completed", report.error
    baseline, after = (json.loads(line) for line in probe.read_text().splitlines())
    assert (baseline["greeting"], started_ahead(baseline)) == ("hello", False)
    assert (after["greeting"], started_ahead(after)) == ("hi", True)
    assert list(temp_root.iterdir()) == []


async def test_a_rerun_whose_baseline_is_reused_still_runs_its_after_run_ahead(
    make_repo: MakeRepo, probe: Path
) -> None:
    repo = make_repo(FILES)
    await run_collecting(plan(GREET), repo)
    git(repo, "checkout", "--", "lib.py")  # the same tree again: its baseline is kept
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "completed", report.error
    assert report.baselines[0].summary.startswith("reused")
    *_, after = (json.loads(line) for line in probe.read_text().splitlines())
    assert (after["greeting"], started_ahead(after)) == ("hi", True)


async def test_a_write_that_shadows_pytest_is_met_by_a_cold_start(
    make_repo: MakeRepo, probe: Path
) -> None:
    # `python -m pytest` in the workspace imports a pytest.py there: the interpreter started
    # ahead had imported the real one, so it must start cold and run what a cold start runs.
    args = {"path": "pytest.py", "content": "import sys\n\nsys.exit(3)  # not pytest at all\n"}
    write = {"id": "shadow", "skill": "write_file", "args": args}
    repo = make_repo(FILES)
    report, _ = await run_collecting(plan(write), repo)
    assert report.status == "stopped"
    assert report.failed_step == "tests", report.error
    [baseline] = (json.loads(line) for line in probe.read_text().splitlines())
    assert not started_ahead(baseline)  # the after-run ran the shadow: no test, no probe


async def test_a_run_stopped_before_its_after_run_leaves_nothing_started_ahead(
    make_repo: MakeRepo, probe: Path, temp_root: Path
) -> None:
    repo = make_repo({**FILES, "test_broken.py": "def test_broken(:\n"})
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "stopped"
    assert report.failed_step == "tests", report.error
    assert "before any write" in (report.error or "")
    assert not launchers_in(repo)
    assert list(temp_root.iterdir()) == []
    assert (repo / "lib.py").read_text() == FILES["lib.py"]
