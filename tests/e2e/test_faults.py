"""Every fault ends in a report: a full disk or a database gone mid-run stops the CLI with a
stopped report (exit 1; the step, the files that had landed, how to undo them, how to resume),
and the resume, once the fault is put right, ends with exactly the uninterrupted result.

A full disk is real where a small tmpfs can be mounted (as root); elsewhere (a sandbox without
CAP_SYS_ADMIN) it is simulated with the ``enospc@`` failpoints
(``graph/durable/failpoints.py``), which raise ``OSError(ENOSPC)`` right after a write step's
pre-image copy and right after its store write.
PostgreSQL is a real server of the test's own, stopped with ``pg_ctl -m immediate``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from support.durable import PLAN, cli, commits, make, report
from support.postgres import _bindir, postgres
from support.repos import git, require_program

#: The durable tests' plan without its pytest step (a second slower check adds nothing here).
STEPS = [s for s in cast("list[dict[str, Any]]", PLAN["steps"]) if s["id"] != "tests"]
FAULT_PLAN: dict[str, Any] = {**PLAN, "steps": STEPS}
#: What the uninterrupted run leaves.
DONE = {"calc.py": "A = 1 + 10\nB = 2 + 20\n", "more.py": "C = 3 + 30\n", "pkg/new.py": "D = 4\n"}
PAUSE = "PHASEGRAPH_FAILPOINT_PAUSE"


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


def plan_file(root: Path, plan: dict[str, Any]) -> Path:
    path = root / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def stopped_by_fault(
    out: subprocess.CompletedProcess[str], at: Path, step: str, cause: str, resume: str
) -> dict[str, Any]:
    """Exit 1, no traceback, and the stopped report (printed and in ``at``) naming the step,
    the cause and the command that resumes the run."""
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    found = report(at)
    assert found["status"] == "stopped"
    assert found["failure_kind"] == "fault"
    assert found["failed_step"] == step
    assert cause in found["error"]
    assert f"resume with: {resume}" in found["error"]
    assert f"stopped at step '{step}' (fault)" in out.stdout
    assert f"resume with: {resume}" in out.stdout
    return found


def finished_once(repo: Path, resumed: subprocess.CompletedProcess[str], at: Path) -> None:
    """The resume completed, with the uninterrupted run's files and exactly one commit."""
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert report(at)["status"] == "completed"
    for rel, text in DONE.items():
        assert (repo / rel).read_text() == text
    assert commits(repo) == ["Grow the constants", "initial"]
    assert git(repo, "status", "--porcelain") == ""


# --- a full disk, at the pre-image copy and at the store write ------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 16 MiB tmpfs of the test's own, or ``None`` where none can be mounted (not root, a
    sandbox without CAP_SYS_ADMIN): then the test fills no disk but sets a failpoint."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None or shutil.which("umount") is None:
        yield None
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "phasegraph-test", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """A file taking the disk's free space but ``leave`` bytes (0: every byte there is)."""
    filler = disk / "filler"
    found = os.statvfs(disk)
    wanted = found.f_bavail * found.f_frsize - leave
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while wanted > 0:
            wanted -= os.write(fd, b"\0" * min(wanted, 1 << 20))
        if not leave:  # to the last byte
            for size in (1 << 12, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_at_the_pre_image_copy_ends_in_a_report_and_the_resume_finishes_it(
    small_disk: Path | None, tmp_path: Path
) -> None:
    # Step "big" edits a 1.5 MiB file: its pre-image copy needs 1.5 MiB, the disk has 0.75.
    size = 3 * 512 * 1024 if small_disk is not None else 720
    big = "".join(f"{n:07d} {secrets.token_hex(32)}\n" for n in range(size // 72))
    repo, _ = make(small_disk or tmp_path, {"big.txt": big})
    edit = {"path": "big.txt", "search": "0000000 ", "replace": "0000000 first "}
    steps = list(STEPS)
    steps.insert(2, {"id": "big", "skill": "edit_block", "args": edit})
    plan = plan_file(tmp_path, {**FAULT_PLAN, "steps": steps})
    at = tmp_path / "r.json"
    run = ["run", str(plan), "-w", str(repo), "--thread", "t1", "--report", str(at)]
    if small_disk is not None:  # for real
        filler: Path | None = fill(small_disk, leave=3 * 256 * 1024)
        out = cli(*run)
    else:  # right after the pre-image copy (and its journal entry)
        filler = None
        out = cli(*run, env={"PHASEGRAPH_FAILPOINT": "enospc@before-write:big"})

    found = stopped_by_fault(
        out,
        at,
        "big",
        "the disk is full (No space left on device)",
        f"phasegraph resume t1 -w {repo.resolve()}",
    )
    # e1's write is on disk: named, with the command that puts it back.
    assert found["written"] == ["calc.py"]
    head = git(repo, "rev-parse", "HEAD").strip()
    undo = f"git --literal-pathspecs restore --source={head} --worktree -- calc.py"
    assert found["undo"] == [undo]
    assert f"to undo: {undo}" in out.stdout
    assert (repo / "big.txt").read_text() == big
    assert not list((repo / ".phasegraph").rglob("*phasegraph-tmp"))  # no half copy left

    if filler is not None:
        filler.unlink()
    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(at))
    finished_once(repo, resumed, at)
    assert (repo / "big.txt").read_text() == big.replace("0000000 ", "0000000 first ", 1)


def test_a_full_disk_at_the_store_write_ends_in_a_report_and_the_resume_finishes_it(
    small_disk: Path | None, tmp_path: Path
) -> None:
    repo, _ = make(small_disk or tmp_path)
    plan = plan_file(tmp_path, FAULT_PLAN)
    marker, at = tmp_path / "paused", tmp_path / "r.json"
    run = ("--thread", "t1", "--report", str(at))
    if small_disk is not None:  # for real: e2's write, then its record in SQLite, find no room
        with paused_run(plan, repo, "before-write:e2", marker, *run) as proc:
            filler: Path | None = fill(small_disk)
        out = finished(proc)
        cause = "the run's database is full (database or disk is full)"
    else:  # right after e2's write landed and its outcome went to the store
        filler = None
        out = cli(
            "run",
            str(plan),
            "-w",
            str(repo),
            *run,
            env={"PHASEGRAPH_FAILPOINT": "enospc@write-landed:e2"},
        )
        cause = "the disk is full (No space left on device)"

    found = stopped_by_fault(out, at, "e2", cause, f"phasegraph resume t1 -w {repo.resolve()}")
    assert found["written"] == ["calc.py"]
    assert commits(repo) == ["initial"]

    if filler is not None:
        filler.unlink()
    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(at))
    finished_once(repo, resumed, at)


@contextlib.contextmanager
def paused_run(
    plan: Path, repo: Path, point: str, marker: Path, *args: str
) -> Iterator[subprocess.Popen[str]]:
    """``phasegraph run`` paused at ``point`` for the body, then let go."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "phasegraph.cli.main", "run", str(plan), "-w", str(repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PHASEGRAPH_FAILPOINT": f"pause@{point}", PAUSE: str(marker)},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the run ended before {point} ({proc.returncode}): {out}{err}")
            assert time.monotonic() < deadline, f"the run never reached {point}"
            time.sleep(0.05)
        yield proc
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    finally:
        marker.unlink(missing_ok=True)


def finished(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


# --- PostgreSQL stopped mid-write ----------------------------------------------------------


class Server:
    """A PostgreSQL cluster started by ``support.postgres`` in ``root``: stopped and started
    again here (as the ``postgres`` user when the tests run as root, as there)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def ctl(self, *argv: str) -> None:
        pg_ctl = _bindir()
        assert pg_ctl is not None
        data = self.root / "data"
        subprocess.run(
            [*self.prefix, str(pg_ctl / "pg_ctl"), "-D", str(data), *argv],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def kill(self) -> None:
        """As a crash would: no shutdown checkpoint, every connection cut."""
        self.ctl("-m", "immediate", "stop")

    def start(self) -> None:
        """With the options it last ran with (``restart`` reads them back)."""
        self.ctl("-l", str(self.root / "log"), "-w", "restart")


def test_postgres_stopped_mid_write_ends_in_a_report_and_the_resume_finishes_it(
    tmp_path: Path,
) -> None:
    # A server of this test's own: the session's serves the other tests.
    root = Path(tempfile.mkdtemp(prefix="phasegraph-pg-"))
    try:
        with postgres(root) as url:
            server = Server(root)
            repo, _ = make(tmp_path)
            plan = plan_file(tmp_path, FAULT_PLAN)
            marker, at = tmp_path / "paused", tmp_path / "r.json"
            thread = ["--thread", "pgkill", "--db", url, "--report", str(at)]
            # Paused as e3 is about to write: e1 and e2 are on disk and journaled.
            with paused_run(plan, repo, "before-write:e3", marker, *thread) as proc:
                server.kill()
            out = finished(proc)
            try:
                found = stopped_by_fault(
                    out,
                    at,
                    "e3",
                    "the run's database cannot be reached",
                    f"phasegraph resume pgkill -w {repo.resolve()} --db {url}",
                )
                # e3's write landed before the store write that found the database gone.
                assert found["written"] == ["calc.py", "more.py"]
                assert commits(repo) == ["initial"]
            finally:
                server.start()  # pgserver stops it at the end: it must be running
            resumed = cli("resume", "pgkill", "-w", str(repo), "--db", url, "--report", str(at))
            finished_once(repo, resumed, at)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_only_faults_of_the_machine_end_in_a_fault_report() -> None:
    from phasegraph.graph.durable.faults import fault_of

    assert fault_of(OSError(errno.ENOSPC, "No space left on device")) == (
        "the disk is full (No space left on device)",
        "free some disk space",
    )
    assert fault_of(sqlite3.OperationalError("database is locked")) is not None
    for bug in (ValueError("a bug"), TimeoutError("slow"), KeyError("k")):
        assert fault_of(bug) is None
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = OSError(errno.EIO, "Input/output error", "/ws/a.py")
    found = fault_of(wrapped)
    assert found is not None and "Input/output error: /ws/a.py" in found[0]
    empty: dict[str, int] = {}
    try:  # a bug raised while an OSError was handled is still a bug
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError:
            empty["missing"]
    except KeyError as exc:
        assert fault_of(exc) is None
    group = ExceptionGroup("tasks", [ValueError("a bug"), OSError(errno.EDQUOT, "Quota")])
    assert fault_of(group) == ("the disk is full (Quota)", "free some disk space")
