"""A plan that names a recipe and steps of its own: the one manual fix a rename needs.

The plan's own writes run after the recipe's edits, on the files as those leave them (a search
text only the rename produces is found), and before the checks; the writes are tried in memory
together before any lands. Real runs on real git repositories, the committed tree checked by
its own full suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.repos import (
    full_suite,
    git,
    init_repo,
    require_program,
    run_collecting,
    snapshot,
    write,
)

from phasegraph import default_registry
from phasegraph.graph.model.plan import parse_plan
from phasegraph.recipes import expand_recipe

MOD = """\
def old_name():
    return 1


REGISTRY = {"old_name": old_name}
"""
TESTS = """\
from pkg.mod import REGISTRY, old_name


def test_direct():
    assert old_name() == 1


def test_registry():
    assert REGISTRY["old_name"]() == 1
"""
FILES = {"pkg/__init__.py": "", "pkg/mod.py": MOD, "tests/test_mod.py": TESTS}
RECIPE: dict[str, Any] = {
    "name": "rename",
    "args": {
        "old": "old_name",
        "new": "new_name",
        "defined_in": "pkg/mod.py",
        "verify": ["run_pytest"],
    },
}
# The rename leaves the string keys (it lists them as not changed): the plan fixes them, on
# lines as the rename leaves them ("new_name" is there only after its edits).
KEY: dict[str, Any] = {
    "id": "key",
    "skill": "edit_block",
    "args": {
        "path": "pkg/mod.py",
        "search": 'REGISTRY = {"old_name": new_name}',
        "replace": 'REGISTRY = {"new_name": new_name}',
    },
}
TEST_KEY: dict[str, Any] = {
    "id": "test-key",
    "skill": "edit_block",
    "args": {
        "path": "tests/test_mod.py",
        "search": 'REGISTRY["old_name"]',
        "replace": 'REGISTRY["new_name"]',
    },
}
PLAN = {"goal": "Rename old_name, its registry key too", "recipe": RECIPE, "steps": [KEY, TEST_KEY]}


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg"):
        require_program(name)


def phasegraph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_plan_s_own_writes_run_after_the_recipe_s_and_the_commit_passes_its_suite(
    tmp_path: Path,
) -> None:
    repo = init_repo(tmp_path / "repo", FILES)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    checked = phasegraph("validate", str(plan), "-w", str(repo))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    out = phasegraph("run", str(plan), "-w", str(repo), "--report", str(tmp_path / "r.json"))

    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "completed"
    writes = [s["id"] for s in report["steps"] if s["phase"] == "write"]
    assert writes[-2:] == ["key", "test-key"] and len(writes) > 2  # the recipe's first
    assert all(s["status"] == "done" for s in report["steps"])
    assert [s["phase"] for s in report["steps"]][-2:] == ["verify", "commit"]
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "pkg/mod.py",
        "tests/test_mod.py",
    ]
    assert (repo / "pkg/mod.py").read_text() == MOD.replace("old_name", "new_name")
    assert (repo / "tests/test_mod.py").read_text() == TESTS.replace("old_name", "new_name")
    assert git(repo, "status", "--porcelain") == ""
    code, counts, last = full_suite(repo)
    assert code == 0 and counts.get("passed") == 2, last


async def test_a_bad_own_edit_stops_the_run_before_any_write(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    wrong = {**KEY, "args": {**KEY["args"], "search": 'REGISTRY = {"nope": new_name}'}}

    report, _ = await run_collecting({**PLAN, "steps": [wrong, TEST_KEY]}, repo)

    assert report.status == "stopped"
    assert report.written == [] and report.commit is None
    assert report.error is not None
    assert "step 'key' (on pkg/mod.py as the plan's earlier writes leave it)" in report.error
    assert 'REGISTRY = {"old_name": new_name}' in report.error  # the nearest line, renamed
    assert snapshot(repo) == before


async def test_an_own_write_on_a_file_with_your_changes_is_refused_before_any_write(
    tmp_path: Path,
) -> None:
    repo = init_repo(tmp_path / "repo", {**FILES, "NOTES.md": "notes\n"})
    write(repo, "NOTES.md", "notes\nmine, not committed\n")
    before = snapshot(repo)
    notes = {"id": "notes", "skill": "write_file", "args": {"path": "NOTES.md", "content": "x\n"}}

    report, _ = await run_collecting({**PLAN, "steps": [KEY, TEST_KEY, notes]}, repo)

    assert report.status == "stopped"
    assert report.written == [] and report.commit is None
    assert report.error is not None and "step 'notes': NOTES.md has uncommitted changes" in (
        report.error
    )
    assert snapshot(repo) == before


def test_the_expanded_plan_keeps_phase_order_and_expanding_again_changes_nothing() -> None:
    from phasegraph.recipes import added_writes

    registry = default_registry()
    read: dict[str, Any] = {"id": "look", "skill": "read_file", "args": {"path": "pkg/mod.py"}}
    plan = parse_plan({**PLAN, "steps": [KEY, read, TEST_KEY]})

    expanded = expand_recipe(plan, registry)

    assert [s.id for s in expanded.steps] == [
        "find-usages",
        "outline",
        "look",
        "key",
        "test-key",
        "pytest",
        "commit",
    ]
    assert [s.id for s in added_writes(expanded, registry)] == ["key", "test-key"]
    assert expand_recipe(expanded, registry) == expanded
