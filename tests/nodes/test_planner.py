"""The planner's first check: a run needs a workspace, and a served run one under its roots."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from phasegraph import RunOptions, build_orchestrator, run_plan
from phasegraph.nodes.planner import WORKSPACE_ROOTS

MakeRepo = Callable[[dict[str, str]], Path]
PLAN = {"goal": "read", "steps": [{"id": "r", "skill": "read_file", "args": {"path": "a.py"}}]}


async def test_no_workspace_is_an_input_error_never_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").write_text("A = 1\n")
    monkeypatch.chdir(tmp_path)  # a run that fell back to the cwd would read a.py here

    report = await run_plan(build_orchestrator(), PLAN, "")

    assert (report.status, report.failure_kind) == ("stopped", "input")
    assert "no workspace given" in (report.error or "") and "say '.'" in (report.error or "")
    assert [s.status for s in report.steps] == []
    assert (await run_plan(build_orchestrator(), PLAN, ".")).status == "completed"


async def test_a_served_run_needs_its_workspace_under_the_configured_roots(
    make_repo: MakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = build_orchestrator(served=True, store=None)
    inside = make_repo({"a.py": "A = 1\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.py").write_text("A = 1\n")

    async def error(workspace: Path | str, python: str | None = None) -> str | None:
        report = await run_plan(served, PLAN, workspace, options=RunOptions(python=python))
        return report.error if report.status == "stopped" else None

    monkeypatch.delenv(WORKSPACE_ROOTS, raising=False)
    assert f"set {WORKSPACE_ROOTS}" in (await error(inside) or "")

    monkeypatch.setenv(WORKSPACE_ROOTS, os.pathsep.join([str(inside), "/nonexistent"]))
    assert await error(inside) is None
    outside = "is not under the served roots"
    assert outside in (await error(elsewhere) or "")
    # Resolved before the check: neither '..' nor a symlink leads out of the roots.
    assert outside in (await error(inside / ".." / "elsewhere") or "")
    (inside / "link").symlink_to(elsewhere)
    assert outside in (await error(inside / "link") or "")
    # Nor does an interpreter named in the run's context.
    refused = await error(inside, python="/usr/bin/python3") or ""
    assert "context option python: '/usr/bin/python3' is outside the workspace" in refused
