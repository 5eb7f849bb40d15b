"""The same crash/resume guarantee with LangGraph's PostgreSQL checkpointer on a real server."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.durable import cli, commits, make, report, tree
from support.repos import git, require_program


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


@pytest.mark.parametrize("point", ["write-landed:e2", "commit-landed"])
def test_crash_and_resume_on_postgres(point: str, tmp_path: Path, postgres_url: str) -> None:
    ref_repo, ref_plan = make(tmp_path / "reference")
    assert cli("run", str(ref_plan), "-w", str(ref_repo), "--db", postgres_url).returncode == 0

    repo, plan = make(tmp_path / "crashed")
    thread = f"pg-{point.replace(':', '-')}"
    killed = cli(
        "run",
        str(plan),
        "-w",
        str(repo),
        "--db",
        postgres_url,
        "--thread",
        thread,
        env={"PHASEGRAPH_FAILPOINT": point},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (repo / ".phasegraph" / "state.sqlite").exists()  # state went to PostgreSQL
    resumed = cli(
        "resume",
        thread,
        "-w",
        str(repo),
        "--db",
        postgres_url,
        "--report",
        str(tmp_path / "r.json"),
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert tree(repo) == tree(ref_repo)
    assert (
        git(repo, "rev-parse", "HEAD^{tree}").strip()
        == git(ref_repo, "rev-parse", "HEAD^{tree}").strip()
    )
    assert commits(repo) == commits(ref_repo)
    assert report(tmp_path / "r.json")["status"] == "completed"
