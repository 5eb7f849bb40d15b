"""What a served campaign does with each repository's thread as the server reports it (the
thread dicts ``threads.search`` answers, the shape langgraph_sdk's ``Thread`` gives), what
each run is given, and how the client authenticates. The runs themselves on a real
``langgraph dev``: tests/server."""

from __future__ import annotations

from typing import Any

import pytest

from phasegraph.campaign.model import Campaign, RepoEntry
from phasegraph.campaign.served import (
    TOKEN_ENV,
    action_of,
    connect,
    context_of,
    row_of,
    run_input,
)
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.report import RemoteReport, Report

URL = "file:///srv/repos/a.git"
ENTRY = RepoEntry(repo=URL, ref="v1")
CAMPAIGN = Campaign(id="c1", plan={"goal": "g", "steps": []}, repos=[ENTRY], branch="phasegraph/c1")


def thread(status: str, values: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "thread_id": CAMPAIGN.thread_of(ENTRY),
        "status": status,
        "values": values,
        "metadata": {"phasegraph_campaign": "c1", "repo": URL},
        **more,
    }


def pushed_report() -> dict[str, Any]:
    remote = RemoteReport(
        repo=URL, ref="v1", base="a" * 40, branch="phasegraph/c1", commit="b" * 40, pushed=True
    )
    return Report(status="completed", commit="b" * 40, remote=remote).model_dump(mode="json")


def test_a_rerun_keeps_ended_runs_waits_for_live_ones_and_restarts_the_rest() -> None:
    assert action_of(None, has_next=False) == "start"
    assert action_of(thread("idle", None), has_next=False) == "start"
    assert action_of(thread("busy", {"steps": {}}), has_next=True) == "wait"
    assert action_of(thread("idle", {"report": pushed_report()}), has_next=False) == "keep"
    # A run that raised or was interrupted resumes from its thread's checkpoint...
    assert action_of(thread("error", {"steps": {}}), has_next=True) == "resume"
    assert action_of(thread("interrupted", {"steps": {}}), has_next=True) == "resume"
    # ...or starts over when it left none to resume from.
    assert action_of(thread("error", {}), has_next=False) == "start"
    assert action_of(thread("idle", None), has_next=True) == "start"  # no state: no checkpoint


def test_each_run_gets_the_repository_its_ref_its_branch_and_the_plan() -> None:
    assert run_input(CAMPAIGN, ENTRY) == {
        "repo": URL,
        "ref": "v1",
        "push": "phasegraph/c1",
        "plan": {"goal": "g", "steps": []},
    }


def test_the_context_holds_only_the_options_set_apart_from_their_defaults() -> None:
    assert context_of(None) is None
    assert context_of(RunOptions()) is None
    assert context_of(RunOptions(strict=True, retries=1)) == {"strict": True, "retries": 1}


def test_rows_follow_the_thread_running_then_ended() -> None:
    steps = {
        "e1": {"id": "e1", "phase": "write", "status": "running", "started_at": 3.0},
        "find": {"id": "find", "phase": "read", "status": "done", "started_at": 1.0},
    }
    running = row_of(CAMPAIGN, ENTRY, thread("busy", {"steps": steps}))
    assert (running.status, running.phase, running.step) == ("running", "write", "e1")
    assert running.thread == CAMPAIGN.thread_of(ENTRY) and running.branch == "phasegraph/c1"
    queued = row_of(CAMPAIGN, ENTRY, thread("busy", None))
    assert (queued.status, queued.phase) == ("running", "")
    ended = row_of(CAMPAIGN, ENTRY, thread("idle", {"report": pushed_report()}))
    assert ended.status == "pushed" and ended.commit == "b" * 40 and ended.ended
    assert row_of(CAMPAIGN, ENTRY, None).status == "pending"
    assert row_of(CAMPAIGN, ENTRY, thread("idle", None)).status == "pending"


def test_a_run_that_raised_on_the_server_is_failed_with_its_error_and_how_to_go_on() -> None:
    row = row_of(CAMPAIGN, ENTRY, thread("error", {"steps": {}}, error="KeyError: 'x'"))
    assert row.status == "failed" and row.ended
    assert "raised: KeyError: 'x'" in row.reason and "re-run the campaign" in row.reason


def test_the_client_sends_the_token_as_a_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    client = connect("http://127.0.0.1:9")
    assert client.http.client.headers["Authorization"] == "Bearer from-env"
    given = connect("http://127.0.0.1:9", token="given", headers={"X-Team": "a"})
    assert given.http.client.headers["Authorization"] == "Bearer given"
    assert given.http.client.headers["X-Team"] == "a"
    own = connect("http://127.0.0.1:9", headers={"authorization": "Basic x"})
    assert own.http.client.headers["Authorization"] == "Basic x"
