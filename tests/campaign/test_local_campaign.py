"""A campaign on one machine, end to end: real bare repositories served by file:// URL, each
cloned, changed, checked by the real pytest and pushed (or blocked, or refused), at most
``concurrency`` at once; running it again starts only the repositories that had not ended."""

from __future__ import annotations

import json
from pathlib import Path

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

from phasegraph.campaign.local import run_campaign_local
from phasegraph.campaign.model import RepoOutcome
from phasegraph.campaign.run import make_campaign, run_campaign
from phasegraph.cli.main import main

FILES, PINNED, PLAN = GROW_FILES, PINNED_FILES, GROW_PLAN


class Seen:
    """Every change a campaign told, and the most repositories running at once."""

    def __init__(self) -> None:
        self.changes: list[RepoOutcome] = []
        self.running: set[str] = set()
        self.most = 0

    def __call__(self, outcome: RepoOutcome) -> None:
        self.changes.append(outcome)
        if outcome.status == "running":
            self.running.add(outcome.repo)
        else:
            self.running.discard(outcome.repo)
        self.most = max(self.most, len(self.running))


async def test_a_campaign_pushes_what_passes_blocks_what_breaks_and_goes_on_where_it_was(
    remote_owner: Path, tmp_path: Path
) -> None:
    alpha, alpha_url = bare_remote(remote_owner, "alpha", FILES)
    beta, beta_url = bare_remote(remote_owner, "beta", FILES)
    gamma, gamma_url = bare_remote(remote_owner, "gamma", PINNED)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _, stranger_url = bare_remote(elsewhere, "stranger", FILES)
    urls = [alpha_url, beta_url, gamma_url, stranger_url]
    campaign = make_campaign(PLAN, urls)
    seen = Seen()

    outcomes = await run_campaign_local(campaign, concurrency=2, on_change=seen)

    by_repo = {o.repo: o for o in outcomes}
    assert [o.repo for o in outcomes] == urls
    assert by_repo[alpha_url].status == "pushed", by_repo[alpha_url]
    assert by_repo[beta_url].status == "pushed", by_repo[beta_url]
    branch = f"phasegraph/{campaign.id}"
    for bare, url in ((alpha, alpha_url), (beta, beta_url)):
        assert by_repo[url].branch == branch
        assert commits_on(bare, branch) == ["Grow A"]  # exactly one commit, on a new branch
        assert branch_head(bare, branch) == by_repo[url].commit
        assert file_at(bare, branch, "calc.py") == "A = 11\n"
        assert file_at(bare, "main", "calc.py") == "A = 1\n"  # the base never moves
    blocked = by_repo[gamma_url]
    assert blocked.status == "blocked" and blocked.new_findings.get("tests"), blocked
    assert branch_head(gamma, branch) is None  # nothing pushed
    refused = by_repo[stranger_url]
    assert refused.status == "refused" and "PHASEGRAPH_REMOTES" in refused.reason
    assert 2 <= seen.most <= 2  # never more than the concurrency, and it was used
    assert {c.phase for c in seen.changes if c.repo == alpha_url} >= {"checkout", "write"}
    record = json.loads((tmp_path / "work" / "campaigns" / f"{campaign.id}.json").read_text())
    assert set(record["repos"]) == set(urls)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["campaigns"]  # no clone

    # Running it again starts nothing: every repository has ended.
    again = Seen()
    assert await run_campaign_local(campaign, on_change=again) == outcomes
    assert not any(c.status == "running" for c in again.changes)

    # A run whose process died after its push (not recorded) runs again: the push it finds
    # on the remote is the same change, so the branch still has the one commit.
    del record["repos"][beta_url]
    path = tmp_path / "work" / "campaigns" / f"{campaign.id}.json"
    path.write_text(json.dumps(record))
    third = Seen()
    result = await run_campaign(PLAN, urls, on_change=third)
    assert {c.repo for c in third.changes if c.status == "running"} == {beta_url}
    assert [o.status for o in result.outcomes] == ["pushed", "pushed", "blocked", "refused"]
    assert commits_on(beta, branch) == ["Grow A"]
    assert not result.ok and result.summary()["counts"]["pushed"] == 2


def test_the_command_runs_a_campaign_and_writes_its_summaries(
    remote_owner: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alpha, alpha_url = bare_remote(remote_owner, "alpha", FILES)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    repos = tmp_path / "repos.txt"
    repos.write_text(f"# one repository\n{alpha_url} main\n")
    summary, markdown = tmp_path / "summary.json", tmp_path / "summary.md"
    argv = ["campaign", str(plan), "--repos", str(repos), "--branch", "team/grow-a"]
    argv += ["--json", "--summary", str(summary), "--markdown", str(markdown)]

    assert main(argv) == 0

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "repo" and lines[0]["repo"] == alpha_url
    assert lines[-1]["event"] == "campaign" and lines[-1]["counts"]["pushed"] == 1
    assert commits_on(alpha, "team/grow-a") == ["Grow A"]
    assert json.loads(summary.read_text())["repos"][0]["branch"] == "team/grow-a"
    assert f"| {alpha_url} | pushed | team/grow-a at " in markdown.read_text()
    # The same command again: the campaign is known by its id, and nothing runs again.
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("status") for line in lines] == ["pushed", None]


def test_a_bad_repos_file_is_bad_input_and_nothing_runs(
    remote_owner: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    repos = tmp_path / "repos.txt"
    repos.write_text("file:///x/a.git main extra-word\n")

    assert main(["campaign", str(plan), "--repos", str(repos)]) == 2

    err = capsys.readouterr().err
    assert f"{repos}: line 1" in " ".join(err.split())
    assert not (tmp_path / "work").exists()
