"""Approval: a run pauses once its plan is final, before the first write, until a person answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.llm import LIB, PLAN, fake_model
from support.repos import git, require_program, snapshot

from phasegraph import RunPaused, build_orchestrator, resume_run, run_plan, run_request

MakeRepo = Callable[[dict[str, str]], Path]

EDIT = {
    "id": "edit",
    "skill": "edit_block",
    "args": {
        "path": "lib.py",
        "search": "return 'hello ' + name",
        "replace": "return 'hi ' + name",
    },
}
NOTES = {
    "id": "notes",
    "skill": "write_file",
    "args": {"path": "NOTES.md", "content": "hi\n" * 100},
}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


async def paused_run(repo: Path) -> tuple[Any, RunPaused]:
    model, _ = fake_model(PLAN, {"steps": [EDIT, NOTES]})
    graph = build_orchestrator(model=model, approve_writes=True)
    with pytest.raises(RunPaused) as paused:
        await run_request(graph, "greet with hi", repo, thread_id="t1")
    return graph, paused.value


async def test_the_run_pauses_before_the_first_write_showing_every_write(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    before = snapshot(repo)

    _, paused = await paused_run(repo)

    assert paused.thread_id == "t1"
    asked = paused.value
    assert isinstance(asked, dict)
    assert asked["kind"] == "approve_writes"
    assert asked["goal"] == "Greet with hi"
    assert [w["id"] for w in asked["writes"]] == ["edit", "notes"]
    edit, notes = asked["writes"]
    assert edit["paths"] == ["lib.py"]
    assert edit["args"]["search"] == "return 'hello ' + name"
    assert edit["args"]["replace"] == "return 'hi ' + name"
    assert notes["paths"] == ["NOTES.md"]
    assert notes["content_lines"] == 100
    assert notes["content_truncated"] is True
    assert notes["content_preview"] == "hi\n" * 40
    assert asked["commit"] == "Greet with hi"
    assert snapshot(repo) == before  # nothing written while it waits


async def test_approving_resumes_the_run_to_its_commit(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    graph, _ = await paused_run(repo)

    report = await resume_run(graph, "t1", answer={"approve": True})

    assert report.status == "completed", report.error
    assert (repo / "NOTES.md").read_text() == "hi\n" * 100
    assert git(repo, "rev-parse", "HEAD").strip() == report.commit
    assert report.usage.total.calls == 2  # answering costs no model call


async def test_rejecting_stops_the_run_with_a_report_and_nothing_written(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    before = snapshot(repo)
    graph, _ = await paused_run(repo)

    report = await resume_run(graph, "t1", answer={"approve": False, "reason": "not today"})

    assert report.status == "stopped"
    assert report.failure_kind == "rejected"
    assert report.error == "the writes were not approved: not today; nothing was written"
    assert {s.id: s.status for s in report.steps if s.phase != "read"} == {
        "edit": "skipped",
        "notes": "skipped",
        "commit": "skipped",
    }
    assert report.written == []
    assert snapshot(repo) == before


async def test_an_unclear_answer_is_a_no(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    graph, _ = await paused_run(repo)

    report = await resume_run(graph, "t1", answer="maybe")

    assert report.failure_kind == "rejected"


async def test_a_plan_without_an_llm_can_ask_too_and_on_interrupt_answers(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": LIB})
    asked: list[dict[str, Any]] = []

    def answer(value: dict[str, Any]) -> dict[str, Any]:
        asked.append(value)
        return {"approve": True}

    plan = {"goal": "Notes", "steps": [NOTES]}
    report = await run_plan(
        build_orchestrator(approve_writes=True), plan, repo, on_interrupt=answer
    )

    assert report.status == "completed", report.error
    assert [w["id"] for w in asked[0]["writes"]] == ["notes"]
    assert (repo / "NOTES.md").exists()


async def test_a_run_with_nothing_to_write_does_not_ask(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": LIB})
    plan = {"goal": "Look", "steps": [PLAN["steps"][0]]}

    report = await run_plan(build_orchestrator(approve_writes=True), plan, repo)

    assert report.status == "completed", report.error


def test_without_approve_writes_the_graph_has_no_pause() -> None:
    assert "approve" not in build_orchestrator().get_graph().nodes
    assert "approve" in build_orchestrator(approve_writes=True).get_graph().nodes


async def test_the_request_holds_one_unified_diff_per_file(make_repo: MakeRepo) -> None:
    require_program("ruff")
    repo = make_repo({"lib.py": LIB})
    before = snapshot(repo)
    asked: list[dict[str, Any]] = []

    def answer(value: dict[str, Any]) -> dict[str, Any]:
        asked.append(value)
        return {"approve": False}

    again = {
        "id": "name",
        "skill": "edit_block",
        "args": {"path": "lib.py", "search": "def greet(", "replace": "def salute("},
    }
    notes = {**NOTES, "args": {"path": "NOTES.md", "content": "hi\n"}}
    imports = {"id": "imports", "skill": "fix_imports", "args": {"paths": ["lib.py"]}}
    plan = {"goal": "Greet", "steps": [EDIT, again, notes, imports]}

    report = await run_plan(
        build_orchestrator(approve_writes=True), plan, repo, on_interrupt=answer
    )

    assert report.failure_kind == "rejected"
    lib, new = asked[0]["files"]
    assert (lib["path"], lib["writes"], lib["then"], lib["diff_omitted"]) == (
        "lib.py",
        ["edit", "name"],
        ["imports"],
        0,
    )
    assert lib["diff"].splitlines() == [
        "--- a/lib.py",
        "+++ b/lib.py",
        "@@ -1,2 +1,2 @@",
        "-def greet(name: str) -> str:",
        "-    return 'hello ' + name",
        "+def salute(name: str) -> str:",
        "+    return 'hi ' + name",
    ]
    assert new["path"] == "NOTES.md" and new["writes"] == ["notes"]
    assert new["diff"].splitlines() == ["--- /dev/null", "+++ b/NOTES.md", "@@ -0,0 +1 @@", "+hi"]
    assert snapshot(repo) == before
