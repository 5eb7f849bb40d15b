"""The undo of a campaign, end to end on real bare repositories served by file:// URL: each
branch the campaign pushed is deleted while nobody built on it, a revert is pushed onto one
someone built on (their commit kept), what was not pushed is left alone, and the undo run
again changes nothing; the campaign run again under its id does not start what was undone.
The same from the command line, and for a campaign on a real ``langgraph dev``, whose undo
runs on the client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.remotes import (
    GROW_FILES,
    GROW_PLAN,
    PINNED_FILES,
    bare_remote,
    branch_head,
    commits_on,
    file_at,
)
from support.repos import git, require_program, write
from support.served import TOKEN, serving

from phasegraph import CampaignResult, RepoOutcome, run_campaign, undo_campaign
from phasegraph.campaign.run import make_campaign
from phasegraph.campaign.served import UNDONE_KEY, row_of
from phasegraph.cli.main import main

FILES, PINNED, PLAN = GROW_FILES, PINNED_FILES, GROW_PLAN


def build_on(tmp_path: Path, url: str, branch: str) -> str:
    """Someone clones ``branch`` of ``url``, commits a file on top and pushes: their commit."""
    clone = tmp_path / "someone"
    git(tmp_path, "clone", "-q", "--branch", branch, url, str(clone))
    write(clone, "notes.txt", "theirs\n")
    git(clone, "add", "notes.txt")
    git(clone, "commit", "-q", "-m", "Their notes")
    git(clone, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return git(clone, "rev-parse", "HEAD").strip()


async def test_an_undo_deletes_the_branches_reverts_where_others_built_and_is_done_once(
    remote_owner: Path, tmp_path: Path
) -> None:
    alpha, alpha_url = bare_remote(remote_owner, "alpha", FILES)
    beta, beta_url = bare_remote(remote_owner, "beta", FILES)
    gamma, gamma_url = bare_remote(remote_owner, "gamma", PINNED)
    urls = [alpha_url, beta_url, gamma_url]
    result: CampaignResult = await run_campaign(PLAN, urls)
    assert [o.status for o in result.outcomes] == ["pushed", "pushed", "blocked"]
    branch = result.campaign.branch
    theirs = build_on(tmp_path, beta_url, branch)
    seen: list[RepoOutcome] = []

    outcomes = await undo_campaign(PLAN, urls, on_change=seen.append)

    alpha_out, beta_out, gamma_out = outcomes
    # Nobody built on alpha's branch: it is gone.
    assert (alpha_out.status, alpha_out.reason) == ("undone", f"deleted branch {branch}")
    assert branch_head(alpha, branch) is None
    # Someone built on beta's: a revert on top, their commit and file kept, the change gone.
    assert beta_out.status == "undone", beta_out
    revert = branch_head(beta, branch)
    assert beta_out.reason == f"pushed revert {revert} onto {branch}"
    assert commits_on(beta, branch) == ['Revert "Grow A"', "Their notes", "Grow A"]
    assert git(beta, "rev-parse", f"{branch}~1").strip() == theirs
    assert file_at(beta, branch, "calc.py") == "A = 1\n"
    assert file_at(beta, branch, "notes.txt") == "theirs\n"
    # The history stays in the outcome; the undo commands, done, go.
    assert beta_out.commit == result.outcomes[1].commit and beta_out.undo == []
    # What was not pushed is left as it was.
    assert gamma_out == result.outcomes[2] and branch_head(gamma, branch) is None
    assert {o.repo for o in seen if o.status == "running"} == {alpha_url, beta_url}
    assert all(o.phase == "undo" for o in seen if o.status == "running")
    assert file_at(alpha, "main", "calc.py") == "A = 1\n"  # the base never moves
    record_file = tmp_path / "work" / "campaigns" / f"{result.campaign.id}.json"
    record = json.loads(record_file.read_text())
    assert [record["repos"][url]["status"] for url in urls] == ["undone", "undone", "blocked"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["campaigns"]  # no scratch

    # Again: nothing is done (no second revert, nothing deleted twice).
    again: list[RepoOutcome] = []
    assert await undo_campaign(PLAN, urls, on_change=again.append) == outcomes
    assert not any(o.status == "running" for o in again)
    assert branch_head(beta, branch) == revert and branch_head(alpha, branch) is None

    # The campaign again, under its id: nothing starts, the undone stay undone.
    rerun: list[RepoOutcome] = []
    same = await run_campaign(PLAN, urls, on_change=rerun.append)
    assert [o.status for o in same.outcomes] == ["undone", "undone", "blocked"]
    assert not any(o.status == "running" for o in rerun) and not same.ok
    assert same.summary()["counts"]["undone"] == 2
    assert branch_head(alpha, branch) is None
    # A new campaign (another id) makes the change again, on its own branch.
    fresh = await run_campaign(PLAN, [alpha_url], campaign_id="again")
    assert fresh.outcomes[0].status == "pushed" and fresh.ok
    assert commits_on(alpha, "phasegraph/again") == ["Grow A"]


def test_the_command_undoes_a_campaign_and_exits_0_only_when_nothing_stays_pushed(
    remote_owner: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alpha, alpha_url = bare_remote(remote_owner, "alpha", FILES)
    beta, beta_url = bare_remote(remote_owner, "beta", FILES)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    repos = tmp_path / "repos.txt"
    repos.write_text(f"{alpha_url}\n{beta_url}\n")
    argv = ["campaign", str(plan), "--repos", str(repos)]
    assert main(argv) == 0
    capsys.readouterr()
    campaign = make_campaign(plan, repos)
    branch = campaign.branch
    pushed = branch_head(beta, branch)
    assert pushed is not None and branch_head(alpha, branch) is not None

    # This machine no longer lists the remotes: refused, with the fix, and nothing undone.
    monkeypatch.setenv("PHASEGRAPH_REMOTES", "https://git.example.com/acme/")
    assert main([*argv, "--undo"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "2 pushed remotes may not be reached from here" in err
    assert "list them in PHASEGRAPH_REMOTES here" in err and "nothing was undone" in err
    assert branch_head(beta, branch) == pushed and branch_head(alpha, branch) is not None
    monkeypatch.setenv("PHASEGRAPH_REMOTES", remote_owner.resolve().as_uri() + "/")

    # Someone rewrote beta's branch: its undo fails and says why; alpha's goes on.
    main_sha = git(beta, "rev-parse", "main").strip()
    git(beta, "update-ref", f"refs/heads/{branch}", main_sha)
    summary = tmp_path / "undo.json"
    assert main([*argv, "--undo", "--json", "--summary", str(summary)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["event"] == "undo" and lines[-1]["ok"] is False
    assert lines[-1]["counts"]["undone"] == 1 and lines[-1]["counts"]["pushed"] == 1
    beta_row = next(r for r in lines[-1]["repos"] if r["repo"] == beta_url)
    assert beta_row["status"] == "pushed" and beta_row["step"] == "undo"
    assert beta_row["reason"].startswith(f"undo failed: commit {pushed} is not on branch")
    assert json.loads(summary.read_text()) == {k: v for k, v in lines[-1].items() if k != "event"}
    assert branch_head(alpha, branch) is None
    assert branch_head(beta, branch) == main_sha  # nothing forced onto it

    # They deleted it by hand since: the undo finds it gone, and ends.
    git(beta, "update-ref", "-d", f"refs/heads/{branch}")
    assert main([*argv, "--undo"]) == 0
    out = capsys.readouterr().out
    assert f"# Undo of campaign {campaign.id}" in out
    assert "2 repositories: 2 undone." in out
    assert f"| {beta_url} | undone | branch {branch} is already gone |" in out
    assert f"| {alpha_url} | undone | deleted branch {branch} |" in out
    # Once more: nothing to do, still 0.
    assert main([*argv, "--undo", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("status") for line in lines] == ["undone", "undone", None]

    # A campaign that never ran here: bad input, naming the record looked for.
    assert main([*argv, "--undo", "--id", "never-ran"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "campaign never-ran: it has no record here" in err and "never-ran.json" in err


def test_a_served_thread_marked_undone_reads_undone() -> None:
    url = "file:///srv/repos/a.git"
    campaign = make_campaign(PLAN, [url], campaign_id="c1")
    report = {
        "status": "completed",
        "remote": {"repo": url, "branch": "phasegraph/c1", "commit": "b" * 40, "pushed": True},
    }
    thread: dict[str, Any] = {
        "thread_id": campaign.thread_of(campaign.repos[0]),
        "status": "idle",
        "values": {"report": report},
        "metadata": {"phasegraph_campaign": "c1", "repo": url},
    }
    assert row_of(campaign, campaign.repos[0], thread).status == "pushed"
    thread["metadata"] = {**thread["metadata"], UNDONE_KEY: "deleted branch phasegraph/c1"}
    row = row_of(campaign, campaign.repos[0], thread)
    assert (row.status, row.reason, row.commit) == (
        "undone",
        "deleted branch phasegraph/c1",
        "b" * 40,
    )
    assert row.ended  # a campaign run again keeps it: it does not start it again


def test_a_campaign_on_a_server_is_undone_from_the_client(
    remote_owner: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_program("langgraph")
    alpha, alpha_url = bare_remote(remote_owner, "alpha", FILES)
    gamma, gamma_url = bare_remote(remote_owner, "gamma", PINNED)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    repos = tmp_path / "repos.txt"
    repos.write_text(f"{alpha_url}\n{gamma_url}\n")
    branch = "team/grow-a"
    home = tmp_path / "server"
    home.mkdir()
    listed = remote_owner.resolve().as_uri() + "/"
    env = {"PHASEGRAPH_REMOTES": listed, "PHASEGRAPH_WORK_DIR": str(tmp_path / "server-work")}
    monkeypatch.setenv("PHASEGRAPH_SERVER_TOKEN", TOKEN)
    with serving(home, env) as server:
        argv = ["campaign", str(plan), "--repos", str(repos), "--branch", branch]
        argv += ["--server", server.url]
        assert main(argv) == 1  # gamma blocked
        capsys.readouterr()
        pushed = branch_head(alpha, branch)
        assert pushed is not None

        # The undo runs here: this client's environment must list the remotes too.
        monkeypatch.delenv("PHASEGRAPH_REMOTES")
        assert main([*argv, "--undo"]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"the undo runs here, not on the server ({server.url})" in err
        assert "this environment's PHASEGRAPH_REMOTES" in err and "nothing was undone" in err
        assert branch_head(alpha, branch) == pushed

        monkeypatch.setenv("PHASEGRAPH_REMOTES", listed)
        assert main([*argv, "--undo", "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        final = {r["repo"]: r for r in lines[-1]["repos"]}
        assert final[alpha_url]["status"] == "undone"
        assert final[alpha_url]["reason"] == f"deleted branch {branch}"
        assert final[gamma_url]["status"] == "blocked"
        assert branch_head(alpha, branch) is None and branch_head(gamma, branch) is None

        # The campaign again: the server's threads say undone; nothing runs or pushes again.
        assert main([*argv, "--json"]) == 1
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert lines[-1]["counts"]["undone"] == 1 and lines[-1]["counts"]["blocked"] == 1
        assert not any(line.get("status") == "running" for line in lines)
        assert branch_head(alpha, branch) is None
        # The undo again: nothing to do.
        assert main([*argv, "--undo", "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert lines[-1]["counts"]["undone"] == 1
        assert not any(line.get("status") == "running" for line in lines)
