"""The command line against hostile input: clear errors (exit 2, nothing touched), signals,
closed pipes, and the ``runs`` listing. Real processes on real temporary git repositories."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from support.repos import git, require_program, snapshot

from phasegraph.graph.durable.lock import workspace_lock

MakeRepo = Callable[[dict[str, str]], Path]
CLI = [sys.executable, "-m", "phasegraph.cli.main"]

EDIT_AND_COMMIT = (
    "goal: bump A\n"
    "steps:\n"
    "  - {id: e, skill: edit_block, args: {path: a.py, search: 'A = 1', replace: 'A = 2'}}\n"
    "  - {id: commit, skill: git_checkpoint, args: {message: bump A}}\n"
)
SLOW_TEST = """\
import os
import pathlib
import subprocess
import time

BLOCK = pathlib.Path({block!r})
PIDS = pathlib.Path({pids!r})


def test_slow():
    if BLOCK.exists():
        # A grandchild in the same process group: it must die with the step too.
        child = subprocess.Popen(["sleep", "300"])
        PIDS.write_text(f"{{os.getpid()}} {{child.pid}}")
        while BLOCK.exists():
            time.sleep(0.05)
"""
SLOW_PLAN = (
    "goal: bump A, checked by a slow suite\n"
    "steps:\n"
    "  - {id: e, skill: edit_block, args: {path: a.py, search: 'A = 1', replace: 'A = 2'}}\n"
    "  - {id: tests, skill: run_pytest}\n"
    "  - {id: commit, skill: git_checkpoint, args: {message: bump A}}\n"
)


def phasegraph(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


def clear_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, one message naming the input, no traceback."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(what: Callable[[], bool], proc: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert proc.poll() is None, f"the CLI ended early ({proc.returncode})"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


# --- errors that must be clear: exit 2, no traceback, nothing touched ----------------------


def test_report_into_a_missing_folder_is_refused_before_anything_runs(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    head, before = git(repo, "rev-parse", "HEAD"), snapshot(repo)
    plan = tmp_path / "plan.yaml"
    plan.write_text(EDIT_AND_COMMIT)
    report = tmp_path / "nope" / "r.json"
    out = phasegraph("run", str(plan), "-w", str(repo), "--report", str(report))
    clear_error(out, str(report.parent), "--report")
    assert git(repo, "rev-parse", "HEAD") == head
    assert snapshot(repo) == before
    assert out.stdout == ""


def test_a_plan_file_that_is_not_utf8_exits_2(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    before = snapshot(repo)
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(EDIT_AND_COMMIT.encode("utf-16"))
    for argv in (["run", str(plan), "-w", str(repo)], ["validate", str(plan)]):
        clear_error(phasegraph(*argv), str(plan), "UTF-8")
    assert snapshot(repo) == before


@pytest.mark.parametrize("command", ["resume", "history", "undo"])
def test_durable_commands_on_a_missing_workspace_exit_2(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    clear_error(phasegraph(command, "t1", "-w", str(missing)), str(missing))
    assert not missing.exists()


@pytest.mark.parametrize("command", ["resume", "history", "undo", "runs"])
def test_a_missing_db_is_refused_not_created(command: str, tmp_path: Path) -> None:
    db = tmp_path / "typo.sqlite"
    thread = [] if command == "runs" else ["t1"]
    out = phasegraph(command, *thread, "-w", str(tmp_path), "--db", str(db))
    clear_error(out, str(db))
    assert not db.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "resume", "history", "undo", "runs"])
def test_a_db_that_is_not_a_database_exits_2(
    command: str, make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    head, before = git(repo, "rev-parse", "HEAD"), snapshot(repo)
    db = tmp_path / "notes.txt"
    db.write_text("these are my notes, not a database\n" * 20)
    plan = tmp_path / "plan.yaml"
    plan.write_text(EDIT_AND_COMMIT)
    first = {"run": [str(plan)], "runs": []}.get(command, ["t1"])
    out = phasegraph(command, *first, "-w", str(repo), "--db", str(db))
    clear_error(out, str(db), "not a")
    assert db.read_text() == "these are my notes, not a database\n" * 20
    assert git(repo, "rev-parse", "HEAD") == head
    assert snapshot(repo) == before


@pytest.mark.parametrize("command", ["run", "resume", "history", "undo", "runs"])
def test_an_unreachable_postgres_exits_2(command: str, make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    head, before = git(repo, "rev-parse", "HEAD"), snapshot(repo)
    plan = tmp_path / "plan.yaml"
    plan.write_text(EDIT_AND_COMMIT)
    url = f"postgresql://nobody:secret@127.0.0.1:{closed_port()}/phasegraph"
    first = {"run": [str(plan)], "runs": []}.get(command, ["t1"])
    out = phasegraph(command, *first, "-w", str(repo), "--db", url)
    clear_error(out, "cannot reach", "127.0.0.1")
    assert "secret" not in out.stderr + out.stdout
    assert git(repo, "rev-parse", "HEAD") == head
    assert snapshot(repo) == before


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    clear_error(phasegraph("demo", "--dir", str(mine)), str(mine), "not empty")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me\n"


def test_history_creates_nothing_when_there_is_nothing_to_read(tmp_path: Path) -> None:
    out = phasegraph("history", "t1", cwd=tmp_path)
    clear_error(out, "t1")
    assert list(tmp_path.iterdir()) == []


def test_a_busy_workspace_prints_no_resume_hint(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    plan = tmp_path / "plan.yaml"
    plan.write_text(EDIT_AND_COMMIT)
    with workspace_lock(repo, "theirs"):
        table = phasegraph("run", str(plan), "-w", str(repo), "--thread", "mine")
        lines = phasegraph("run", str(plan), "-w", str(repo), "--thread", "mine", "--json")
    for out in (table, lines):
        clear_error(out, "another run is active", "theirs")
        assert "mine" not in out.stdout + out.stderr
    assert lines.stdout == ""
    assert (repo / "a.py").read_text() == "A = 1\n"


# --- hints name options that exist ----------------------------------------------------------


def test_step_timeout_is_an_option_and_the_timeout_hint_names_it(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    block, pids = tmp_path / "block", tmp_path / "pids"
    block.touch()
    repo = make_repo(
        {"a.py": "A = 1\n", "test_slow.py": SLOW_TEST.format(block=str(block), pids=str(pids))}
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(SLOW_PLAN)
    report = tmp_path / "r.json"
    out = phasegraph(
        "run",
        str(plan),
        "-w",
        str(repo),
        "--step-timeout",
        "3",
        "--report",
        str(report),
        "--baseline",
        "before",
    )
    # The baseline could not run: the run stops before any write, as on bad input.
    assert out.returncode == 2, out.stdout + out.stderr
    found = json.loads(report.read_text())
    assert "did not finish within 3s" in found["error"]
    assert "--step-timeout" in found["error"]
    assert (repo / "a.py").read_text() == "A = 1\n"
    for command in ("run", "resume", "demo"):
        shown = phasegraph(command, "--help").stdout
        assert "--step-timeout" in shown and "--baseline" in shown


def test_a_refused_local_fetch_names_the_cli_option(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "goal: g\nsteps:\n  - {id: page, skill: fetch_url, args: {url: 'http://127.0.0.1:9/'}}\n"
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    out = phasegraph("run", str(plan), "-w", str(ws), "--report", str(tmp_path / "r.json"))
    assert out.returncode == 1
    error = json.loads((tmp_path / "r.json").read_text())["error"]
    assert "--allow-host 127.0.0.1" in error


# --- signals: a clean stop, a resume hint that works, no child left behind ----------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_kills_its_step_and_says_how_to_resume(
    signum: int, code: int, make_repo: MakeRepo, tmp_path: Path
) -> None:
    block, pids = tmp_path / "block", tmp_path / "pids"
    block.touch()
    repo = make_repo(
        {"a.py": "A = 1\n", "test_slow.py": SLOW_TEST.format(block=str(block), pids=str(pids))}
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(SLOW_PLAN)
    proc = subprocess.Popen(
        [*CLI, "run", str(plan), "-w", str(repo), "--thread", "t-sig", "--baseline", "before"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, proc)
        step_pids = [int(p) for p in pids.read_text().split()]
        assert all(alive(pid) for pid in step_pids)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stdout + stderr
    assert "Traceback" not in stderr, stderr
    hint = f"resume with: phasegraph resume t-sig -w {repo}"
    assert "interrupted at step baseline:tests" in stderr and hint in stderr, stderr
    wait_for_gone = time.monotonic() + 10
    while any(alive(pid) for pid in step_pids) and time.monotonic() < wait_for_gone:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in step_pids), "a step's process outlived the CLI"
    assert (repo / "a.py").read_text() == "A = 1\n"

    block.unlink()  # the suite no longer hangs: the hint's command finishes the run
    resumed = phasegraph("resume", "t-sig", "-w", str(repo))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (repo / "a.py").read_text() == "A = 2\n"
    assert git(repo, "log", "-1", "--format=%s").strip() == "bump A"


# --- a closed stdout never stops a run ------------------------------------------------------


@pytest.mark.parametrize("json_lines", [True, False])
def test_a_closed_stdout_does_not_stop_the_run(
    json_lines: bool, make_repo: MakeRepo, tmp_path: Path
) -> None:
    block, pids = tmp_path / "block", tmp_path / "pids"
    block.touch()
    repo = make_repo(
        {"a.py": "A = 1\n", "test_slow.py": SLOW_TEST.format(block=str(block), pids=str(pids))}
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(SLOW_PLAN)
    proc = subprocess.Popen(
        [*CLI, "run", str(plan), "-w", str(repo), *(["--json"] if json_lines else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout: IO[str] | None = proc.stdout
        assert stdout is not None
        first = stdout.readline()  # arrives at once, while the run is blocked
        assert proc.poll() is None
        if json_lines:
            assert json.loads(first)["event"] == "run"
        else:
            assert first.startswith("thread ")
        stdout.close()  # like `| head -1`: the reader is gone
        wait_for(pids.exists, proc)
        block.unlink()
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert (repo / "a.py").read_text() == "A = 2\n"
    assert git(repo, "log", "-1", "--format=%s").strip() == "bump A"


# --- phasegraph runs ------------------------------------------------------------------------


def test_runs_lists_the_workspace_runs_newest_first(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(EDIT_AND_COMMIT)
    bad.write_text(
        "goal: write into a folder\n"
        "steps:\n"
        "  - {id: w, skill: write_file, args: {path: b, content: 'x'}}\n"
    )
    (repo / "b").mkdir()
    empty = phasegraph("runs", "-w", str(repo), "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == []
    assert not (repo / ".phasegraph" / "state.sqlite").exists()

    assert phasegraph("run", str(good), "-w", str(repo), "--thread", "first").returncode == 0
    assert phasegraph("run", str(bad), "-w", str(repo), "--thread", "second").returncode == 1
    out = phasegraph("runs", "-w", str(repo), "--json")
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    assert [r["thread"] for r in runs] == ["second", "first"]
    assert runs[0]["status"] == "stopped" and runs[0]["last_step"] == "w"
    assert runs[0]["commit"] is None
    assert runs[1]["status"] == "completed" and runs[1]["last_step"] == "commit"
    assert runs[1]["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert runs[0]["started"] >= runs[1]["started"]
    table = phasegraph("runs", "-w", str(repo))
    assert table.returncode == 0, table.stderr
    assert table.stdout.index("second") < table.stdout.index("first")
    assert runs[1]["commit"][:12] in table.stdout
