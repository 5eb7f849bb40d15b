"""No blocking call on the event loop: LangGraph's dev server refuses them, and users start it
that way. The demo plan (every built-in kind of step) runs under blockbuster, as served."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from blockbuster import blockbuster_ctx
from support.repos import require_program

from phasegraph import build_orchestrator, run_plan
from phasegraph.demo import DEMO_PLAN, prepare_sample_repo
from phasegraph.nodes.planner import WORKSPACE_ROOTS


async def test_a_served_run_makes_no_blocking_call_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("git", "rg", "ruff", "mypy"):
        require_program(name)
    repo = prepare_sample_repo(tmp_path / "inventory")
    monkeypatch.setenv(WORKSPACE_ROOTS, str(tmp_path))
    graph = build_orchestrator(served=True)

    # A blocking call in a callback or a task the run left behind ends up here, not in a step.
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    with blockbuster_ctx():
        report = await run_plan(graph, DEMO_PLAN, repo)
        await asyncio.sleep(0.2)

    assert errors == []

    assert report.status == "completed", report.error
    assert report.commit
    assert {s.phase for s in report.steps} == {"read", "write", "verify", "commit"}
    assert "Blocking" not in " ".join(s.summary for s in [*report.steps, *report.baselines])
