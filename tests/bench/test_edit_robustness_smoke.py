"""The edit-robustness bench runs small and keeps its promise: the ladder never edits wrongly.

The rates themselves are figures for the README, not asserted here.
"""

from __future__ import annotations

from support.repos import run_bench


def test_edit_robustness_reports_both_matchers_and_no_wrong_apply() -> None:
    [row] = run_bench("edit_robustness.py", "--blocks", "20")
    assert row["bench"] == "edit_robustness" and row["blocks"] == 20
    for side in ("exact_only", "ladder"):
        counts = row[side]
        assert counts["applied"] + counts["wrong_applies"] + counts["refused"] == 20
        assert 0 <= counts["apply_rate"] <= 1
    assert row["ladder"]["wrong_applies"] == 0
    assert row["exact_only"]["wrong_applies"] == 0
    # Every kind of drift ran, and the blocks that must be refused were refused.
    assert sum(d["blocks"] for d in row["by_drift"].values()) == 20
    assert len(row["by_drift"]) == 10
    assert row["ladder"]["refused_rightly"] == row["should_refuse"] == 2
    assert row["resend_changes"] == 0
    assert row["ladder"]["applied"] > row["exact_only"]["applied"]
