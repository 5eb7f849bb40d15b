"""Subprocesses: no shell, captured output, caps, and timeouts that kill the whole group."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from support.repos import require_program

from phasegraph.skills.guards.procs import find_program, run_program

PY = sys.executable


def test_find_program_looks_beside_the_running_python() -> None:
    found = require_program("rg")
    venv_rg = Path(sys.executable).parent / "rg"
    if venv_rg.exists():
        assert found == str(venv_rg)
    assert find_program("no-such-program-phasegraph") is None


async def test_run_program_captures_output_and_exit_code(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = await run_program([PY, "-c", code], cwd=tmp_path, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.timed_out
    assert not result.truncated


async def test_run_program_uses_no_shell(tmp_path: Path) -> None:
    text = "$HOME; echo injected `id` > pwned"
    result = await run_program(
        [PY, "-c", "import sys; print(sys.argv[1])", text], cwd=tmp_path, timeout=30
    )
    assert result.stdout == text + "\n"
    assert list(tmp_path.iterdir()) == []


async def test_run_program_honours_cwd_env_and_stdin(tmp_path: Path) -> None:
    code = "import os, sys; print(os.getcwd()); print(os.environ['PG_X']); print(sys.stdin.read())"
    result = await run_program(
        [PY, "-c", code],
        cwd=tmp_path,
        timeout=30,
        env={**os.environ, "PG_X": "value"},
        stdin=b"from stdin",
    )
    assert result.stdout.splitlines() == [str(tmp_path), "value", "from stdin"]


async def test_run_program_caps_output_and_says_so(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('x' * 100_000)"
    result = await run_program([PY, "-c", code], cwd=tmp_path, timeout=30, output_cap=1000)
    assert result.truncated
    assert result.stdout == "x" * 1000
    assert result.returncode == 0


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A killed child whose new parent has not reaped it yet is a zombie: dead too.
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return False


async def test_timeout_kills_the_process_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    code = (
        "import pathlib, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    try:
        # If only the direct child died, the grandchild would hold the pipes open and
        # run_program would hang: the outer wait_for turns that into a quick failure.
        result = await asyncio.wait_for(
            run_program([PY, "-c", code, str(pid_file)], cwd=tmp_path, timeout=1.5), 15
        )
        assert result.timed_out
        # Killed, not left to finish its 60 s sleep (which would exit 0), and nothing kept.
        assert result.returncode == -signal.SIGKILL
        assert (result.stdout, result.stderr) == ("", "")
        child = int(pid_file.read_text())
        for _ in range(100):  # up to 5 s for the kill to land
            if _gone(child):
                break
            await asyncio.sleep(0.05)
        assert _gone(child), "the grandchild outlived the timeout: the group was not killed"
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def _wait_gone(pid: int) -> bool:
    for _ in range(200):  # up to 10 s for the kill to land on a loaded machine
        if _gone(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_child_holding_stdout_does_not_keep_the_step_waiting(tmp_path: Path) -> None:
    # pytest -s and a test that starts a server: the program is done, its child keeps stdout.
    pid_file = tmp_path / "child.pid"
    code = (
        "import pathlib, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
        "print('tests passed')\n"
    )
    try:
        started = time.monotonic()
        result = await asyncio.wait_for(
            run_program([PY, "-c", code, str(pid_file)], cwd=tmp_path, timeout=120), 60
        )
        elapsed = time.monotonic() - started
        assert (result.returncode, result.timed_out) == (0, False)
        assert result.stdout == "tests passed\n"
        assert elapsed < 30, f"waited {elapsed:.0f} s for a pipe the program no longer used"
        assert await _wait_gone(int(pid_file.read_text()))
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


DETACH = (
    "import pathlib, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
    " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
    "time.sleep(float(sys.argv[2]))\n"
)


@pytest.mark.skipif(sys.platform != "linux", reason="detached processes are tracked on Linux")
@pytest.mark.parametrize(("sleep", "timeout"), [(0, 60), (60, 1.5)])
async def test_a_detached_child_ends_with_the_step(
    tmp_path: Path, sleep: float, timeout: float
) -> None:
    # A child in a session of its own (setsid) has left the program's process group.
    pid_file = tmp_path / "child.pid"
    try:
        result = await run_program(
            [PY, "-c", DETACH, str(pid_file), str(sleep)], cwd=tmp_path, timeout=timeout
        )
        assert result.timed_out is (sleep > 0)
        assert await _wait_gone(int(pid_file.read_text())), "the detached child outlived its step"
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_a_missing_program_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await run_program(["no-such-program-phasegraph"], cwd=tmp_path, timeout=30)
    with pytest.raises(FileNotFoundError):
        await run_program(["./not-here"], cwd=tmp_path, timeout=30)


def test_a_program_left_waiting_for_its_input_is_let_go_before_the_loop_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A program fed later (pytest started ahead) still waits when a Ctrl-C ends the loop:
    # asyncio.run cancels it, and it must be closed and reaped then, not by the garbage
    # collector after the loop ("Event loop is closed", "Loop ... that handles pid ...").
    left: list[asyncio.Task[object]] = []

    async def main() -> None:
        later: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        code = "import sys; sys.stdin.read()"
        waiting = run_program([PY, "-c", code], cwd=tmp_path, timeout=30, stdin=later)
        left.append(asyncio.create_task(waiting))
        await asyncio.sleep(0.5)  # it runs, waiting for input that never comes

    unraisable: list[object] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            asyncio.run(main())
            gc.collect()
    finally:
        sys.unraisablehook = hook
    assert unraisable == []
    assert "closed" not in caplog.text
