"""A resumed run trusts the disk only as far as its journal says: a file it wrote must still
hold the bytes it left, and a file it has yet to write must still pass the
uncommitted-changes rule; otherwise it stops, naming the file, before any further write."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.durable import FILES, cli, commits, make, report
from support.repos import require_program, write


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


def crash(root: Path, point: str) -> Path:
    repo, plan = make(root)
    killed = cli(
        "run", str(plan), "-w", str(repo), "--thread", "t1", env={"PHASEGRAPH_FAILPOINT": point}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    return repo


def test_a_file_edited_after_the_run_wrote_it_is_not_committed_on_resume(tmp_path: Path) -> None:
    repo = crash(tmp_path, "verify:tests")  # every write landed, then the run was killed
    mine = "A = 1 + 10\nB = 2 + 20\nMINE = 'edited while the run was down'\n"
    write(repo, "calc.py", mine)

    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(tmp_path / "r.json"))

    assert resumed.returncode != 0, resumed.stdout
    final = report(tmp_path / "r.json")
    assert final["status"] == "stopped"
    assert "calc.py" in final["error"] and "resume" in final["error"]
    assert commits(repo) == ["initial"]
    assert (repo / "calc.py").read_text() == mine


def test_a_file_created_before_the_run_wrote_it_is_not_overwritten_on_resume(
    tmp_path: Path,
) -> None:
    repo = crash(tmp_path, "before-write:e3")  # e4 would create pkg/new.py
    write(repo, "pkg/new.py", "MINE = 'made while the run was down'\n")

    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(tmp_path / "r.json"))

    assert resumed.returncode != 0, resumed.stdout
    final = report(tmp_path / "r.json")
    assert final["status"] == "stopped"
    assert "pkg/new.py" in final["error"] and "uncommitted" in final["error"]
    assert (repo / "pkg/new.py").read_text() == "MINE = 'made while the run was down'\n"
    assert (repo / "more.py").read_text() == FILES["more.py"]  # no further write ran
    assert commits(repo) == ["initial"]


def test_a_refused_resume_goes_on_once_the_file_is_put_back(tmp_path: Path) -> None:
    repo = crash(tmp_path, "before-commit")
    written = (repo / "calc.py").read_text()
    write(repo, "calc.py", written + "# a stray edit\n")
    refused = cli("resume", "t1", "-w", str(repo))
    assert refused.returncode != 0 and commits(repo) == ["initial"]

    write(repo, "calc.py", written)
    resumed = cli("resume", "t1", "-w", str(repo))

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert commits(repo) == ["Grow the constants", "initial"]
