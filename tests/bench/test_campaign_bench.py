"""bench/campaign.py over two repositories, so it does not rot: every measurement is there
and every run pushed. No timing is asserted: the figures live in the bench output and the
README."""

from __future__ import annotations

from support.repos import require_program, run_bench


def test_campaign_bench_measures_the_loop_each_concurrency_and_clone_push() -> None:
    require_program("git")
    require_program("rg")
    [row] = run_bench("campaign.py", "--repos", "2")
    assert row["bench"] == "campaign" and row["repos"] == 2 and row["repeats"] == 1
    # Every measurement ran to the end, each repository pushed (one commit on main, checked).
    assert row["loop"]["pushed"] == 2 and row["loop"]["repos_per_min"] > 0
    assert set(row["campaign"]) == {"1", "2", "4"}
    for side in row["campaign"].values():
        assert side["pushed"] == 2
        assert side["repos_per_min"] > 0 and side["ratio"] > 0
    cost = row["clone_push"]
    assert cost["pushed"] == 2
    assert cost["clone_s"] > 0 and cost["push_s"] > 0
    assert abs(cost["clone_push_s"] - (cost["clone_s"] + cost["push_s"])) <= 0.002
    # Each goal is said met or not, beside its figure.
    assert isinstance(row["ratio_goal_met"], bool) and row["ratio_goal"] == 1.6
    assert isinstance(row["clone_push_goal_met"], bool) and row["clone_push_goal_s"] == 0.5
