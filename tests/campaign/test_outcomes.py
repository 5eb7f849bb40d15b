"""A repository's outcome read from its run's report: pushed, blocked with its new findings,
refused by the owner's list, failed at a step, unchanged; the campaign's id and threads."""

from __future__ import annotations

from phasegraph.campaign.model import (
    Campaign,
    RepoEntry,
    campaign_id_of,
    outcome_of_report,
    outcome_of_served,
    running_where,
)
from phasegraph.graph.model.report import NewFinding, RemoteReport, Report

URL = "file:///srv/repos/billing.git"
BASE = "a" * 40
COMMIT = "b" * 40


def remote(*, pushed: bool) -> RemoteReport:
    return RemoteReport(
        repo=URL,
        ref="HEAD",
        base=BASE,
        branch="phasegraph/rename",
        commit=COMMIT if pushed else None,
        pushed=pushed,
    )


def test_a_pushed_run_is_pushed_with_its_branch_commit_and_undo() -> None:
    undo = [f"git push --force-with-lease=refs/heads/phasegraph/rename:{COMMIT} {URL} :x"]
    report = Report(
        status="completed",
        commit=COMMIT,
        remote=remote(pushed=True),
        undo=undo,
        thread="t1",
        run_id="r1",
    )
    outcome = outcome_of_report(URL, report)
    assert outcome.status == "pushed" and outcome.ended
    assert (outcome.branch, outcome.commit) == ("phasegraph/rename", COMMIT)
    assert outcome.undo == undo and (outcome.thread, outcome.run_id) == ("t1", "r1")


def test_a_run_stopped_at_the_gate_with_new_findings_is_blocked_with_them() -> None:
    report = Report(
        status="stopped",
        failure_kind="gate",
        error="2 new findings block the commit",
        new_findings={
            "tests": [NewFinding(finding="test_calc.py::test_values failed", detail="assert")],
            "lint": [NewFinding(finding="calc.py:1: F401")],
        },
        remote=remote(pushed=False),
    )
    outcome = outcome_of_report(URL, report)
    assert outcome.status == "blocked"
    assert outcome.new_findings == {
        "tests": ["test_calc.py::test_values failed"],
        "lint": ["calc.py:1: F401"],
    }
    assert outcome.reason == "blocked: 2 new findings (tests, lint)"
    assert outcome.commit is None and outcome.undo == []


def test_a_remote_the_owner_does_not_list_is_refused() -> None:
    report = Report(
        status="stopped",
        failed_step="remote:checkout",
        failure_kind="input",
        error=f"{URL} is not on this server's list of remotes (PHASEGRAPH_REMOTES)",
    )
    outcome = outcome_of_report(URL, report, branch="phasegraph/rename")
    assert outcome.status == "refused" and outcome.branch == "phasegraph/rename"
    assert "PHASEGRAPH_REMOTES" in outcome.reason


def test_a_plan_refused_is_a_failure_not_a_refusal_of_the_remote() -> None:
    report = Report(status="stopped", failure_kind="input", error="the plan is invalid: goal")
    outcome = outcome_of_report(URL, report)
    assert outcome.status == "failed" and outcome.step == "input"
    assert outcome.reason == "input: the plan is invalid: goal"


def test_any_other_stop_is_failed_with_its_step() -> None:
    report = Report(
        status="stopped",
        failed_step="e1",
        failure_kind="skill",
        error="edit_block: search text not found in calc.py",
        remote=remote(pushed=False),
    )
    outcome = outcome_of_report(URL, report)
    assert (outcome.status, outcome.step) == ("failed", "e1")
    assert outcome.reason.startswith("skill: edit_block: search text not found")
    push_failed = Report(
        status="stopped",
        failed_step="remote:push",
        failure_kind="remote",
        error="git push: connection reset",
        commit=COMMIT,
        remote=remote(pushed=False),
    )
    assert outcome_of_report(URL, push_failed).step == "remote:push"


def test_a_run_with_nothing_to_commit_is_unchanged() -> None:
    outcome = outcome_of_report(URL, Report(status="completed", remote=remote(pushed=False)))
    assert outcome.status == "unchanged" and outcome.ended


def test_a_served_output_is_read_by_its_report_and_one_without_is_a_failure() -> None:
    report = Report(status="completed", commit=COMMIT, remote=remote(pushed=True))
    served = {"report": report.model_dump(mode="json"), "run_id": "r", "commit_sha": COMMIT}
    assert outcome_of_served(URL, served).status == "pushed"
    missing = outcome_of_served(URL, {"run_id": "r"}, branch="b")
    assert missing.status == "failed" and "without a report" in missing.reason


def test_the_campaign_id_is_a_digest_of_plan_repos_and_branch() -> None:
    plan = {"goal": "g", "steps": []}
    repos = [RepoEntry(repo=URL)]
    same = campaign_id_of(plan, repos)
    assert same == campaign_id_of(dict(plan), [RepoEntry(repo=URL)])
    assert same != campaign_id_of({"goal": "h", "steps": []}, repos)
    assert same != campaign_id_of(plan, [*repos, RepoEntry(repo=URL + "x")])
    assert same != campaign_id_of(plan, repos, "team/x")


def test_each_repository_has_its_own_stable_thread() -> None:
    entries = [RepoEntry(repo=URL), RepoEntry(repo=URL + "2", push="own/branch")]
    campaign = Campaign(id="c1", plan={}, repos=entries, branch="phasegraph/c1")
    again = Campaign(id="c1", plan={}, repos=list(reversed(entries)), branch="phasegraph/c1")
    assert campaign.thread_of(entries[0]) == again.thread_of(entries[0])
    assert campaign.thread_of(entries[0]) != campaign.thread_of(entries[1])
    other = Campaign(id="c2", plan={}, repos=entries, branch="phasegraph/c2")
    assert other.thread_of(entries[0]) != campaign.thread_of(entries[0])
    assert [campaign.push_of(e) for e in entries] == ["phasegraph/c1", "own/branch"]


def test_the_step_shown_is_the_latest_running_one_and_remote_steps_by_phase() -> None:
    steps = {
        "remote:checkout": {
            "id": "remote:checkout",
            "phase": "remote:checkout",
            "status": "done",
            "started_at": 1,
            "ended_at": 2,
        },
        "find": {"id": "find", "phase": "read", "status": "done", "started_at": 2, "ended_at": 3},
        "e1": {
            "id": "e1",
            "phase": "write",
            "status": "running",
            "started_at": 4,
            "ended_at": None,
        },
    }
    assert running_where(steps) == ("write", "e1")
    steps["e1"] = {**steps["e1"], "status": "done", "ended_at": 5}
    assert running_where(steps) == ("write", "e1")
    assert running_where({"remote:checkout": {"id": "remote:checkout", "status": "running"}}) == (
        "checkout",
        "",
    )
    assert running_where(None) == ("", "")
    baseline = {"id": "baseline:tests", "phase": "baseline", "status": "running"}
    assert running_where({"baseline:tests": baseline}) == ("baseline", "tests")
