"""A plan sent again after its edits landed: the landed edits are "already applied", once.

The run is killed (SIGKILL, through a failpoint) after two of its edits landed; the person
keeps that work (commits it) and runs the same plan again on a new thread, with no journal
to tell what landed. Each edit's replacement contains its search text (``A = 1`` becomes
``A = 1 + 10``), so a matcher that only looked for the search would apply it a second time.
A resumed thread is covered by the write journal (tests/e2e/test_crash_resume.py).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.durable import cli, commits, make, report
from support.repos import git, require_program


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


def test_a_plan_run_again_after_a_crash_applies_each_edit_once(tmp_path: Path) -> None:
    repo, plan = make(tmp_path)
    killed = cli(
        "run",
        str(plan),
        "-w",
        str(repo),
        "--thread",
        "t1",
        env={"PHASEGRAPH_FAILPOINT": "write-landed:e2"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert (repo / "calc.py").read_text() == "A = 1 + 10\nB = 2 + 20\n"  # e1 and e2 landed
    git(repo, "commit", "-q", "-am", "keep what landed")

    again = cli(
        "run", str(plan), "-w", str(repo), "--thread", "t2", "--report", str(tmp_path / "r.json")
    )
    assert again.returncode == 0, again.stdout + again.stderr

    assert (repo / "calc.py").read_text() == "A = 1 + 10\nB = 2 + 20\n"  # not "+ 10 + 10"
    assert (repo / "more.py").read_text() == "C = 3 + 30\n"
    assert (repo / "pkg/new.py").read_text() == "D = 4\n"
    final = report(tmp_path / "r.json")
    assert final["status"] == "completed"
    steps = {s["id"]: s for s in final["steps"]}
    for landed in ("e1", "e2"):
        assert steps[landed]["status"] == "done"
        assert "already applied" in steps[landed]["summary"]
    assert "already applied" not in steps["e3"]["summary"]
    assert commits(repo) == ["Grow the constants", "keep what landed", "initial"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "more.py",
        "pkg/new.py",
    ]
    assert git(repo, "status", "--porcelain") == ""
