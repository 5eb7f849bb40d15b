"""A campaign's summary (JSON with stable keys, markdown a person reads) and its live table
off a terminal (one plain line per change of a row, a row unchanged not printed again)."""

from __future__ import annotations

import io
import json

from rich.console import Console

from phasegraph.campaign.model import RepoOutcome
from phasegraph.campaign.summary import summary_data, summary_markdown
from phasegraph.campaign.table import CampaignTable

A, B, C, D = (f"file:///srv/repos/{n}.git" for n in "abcd")

OUTCOMES = [
    RepoOutcome(repo=A, status="pushed", branch="phasegraph/c1", commit="1234567890abcdef" * 2),
    RepoOutcome(
        repo=B,
        status="blocked",
        branch="phasegraph/c1",
        step="gate",
        reason="blocked: 1 new finding (tests)",
        new_findings={"tests": ["test_x.py::test_y failed | badly"]},
    ),
    RepoOutcome(
        repo=C, status="failed", step="e1", reason="skill: search text not found in calc.py"
    ),
    RepoOutcome(repo=D, status="refused", reason=f"{D} is not on PHASEGRAPH_REMOTES"),
]


def test_the_json_summary_has_stable_keys_and_every_count() -> None:
    data = summary_data("c1", OUTCOMES)
    assert list(data) == ["campaign", "total", "counts", "ok", "repos"]
    assert data["counts"] == {
        "pending": 0,
        "running": 0,
        "pushed": 1,
        "unchanged": 0,
        "blocked": 1,
        "failed": 1,
        "refused": 1,
        "undone": 0,
    }
    assert data["total"] == 4 and data["ok"] is False
    assert [r["repo"] for r in data["repos"]] == [A, B, C, D]
    assert data["repos"][1]["new_findings"] == {"tests": ["test_x.py::test_y failed | badly"]}
    json.dumps(data)  # JSON as it is
    assert summary_data("c1", OUTCOMES[:1])["ok"] is True


def test_the_markdown_summary_is_a_table_then_the_blocked_findings() -> None:
    text = summary_markdown("c1", OUTCOMES)
    lines = text.splitlines()
    assert lines[0] == "# Campaign c1"
    assert "4 repositories: 1 pushed, 1 blocked, 1 failed, 1 refused." in lines
    assert "| Repository | Outcome | Branch or reason |" in lines
    assert f"| {A} | pushed | phasegraph/c1 at 1234567890ab |" in lines
    assert f"| {C} | failed | step e1: skill: search text not found in calc.py |" in lines
    assert f"| {D} | refused | {D} is not on PHASEGRAPH_REMOTES |" in lines
    blocked = lines.index("## Blocked: the new findings")
    assert lines[blocked + 2 :][:3] == [
        f"### {B}",
        "",
        "- **tests**",
    ]
    # A '|' in a finding stays out of the table (the findings are listed below it).
    assert "  - `test_x.py::test_y failed | badly`" in lines


def test_off_a_terminal_the_table_prints_a_line_per_change() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with CampaignTable(console, [A, B]) as table:
        assert table.live is None
        table.update(RepoOutcome(repo=A, status="running", phase="checkout"))
        table.update(RepoOutcome(repo=A, status="running", phase="write", step="e1"))
        table.update(RepoOutcome(repo=A, status="running", phase="write", step="e1"))  # same
        table.update(RepoOutcome(repo=B, status="refused", reason="not on the list"))
        table.update(OUTCOMES[0])
    assert out.getvalue().splitlines() == [
        f"{A}  running  checkout",
        f"{A}  running  write/e1",
        f"{B}  refused  not on the list",
        f"{A}  pushed  phasegraph/c1 at 1234567890ab",
    ]


def test_on_a_terminal_the_table_shows_every_repository() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    with CampaignTable(console, [A, B]) as table:
        assert table.live is not None
        table.update(OUTCOMES[1])
    shown = out.getvalue()
    assert A in shown and "pending" in shown
    assert "blocked: 1 new finding (tests)" in shown
    assert "2 repositories: 1 pending, 1 blocked" in shown
