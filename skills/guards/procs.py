"""Subprocesses for skills: never through a shell, timeouts, capped output, nothing left running."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def find_program(name: str) -> str | None:
    """Locate ``name`` beside the running Python first (a venv's ``bin``), then on PATH.

    Looking beside ``sys.executable`` finds tools installed with phasegraph
    (rg, ruff, mypy) even when the venv is not activated.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


@dataclass(frozen=True)
class ProcResult:
    """The outcome of one finished (or killed) subprocess."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False


#: The supervisor each program runs under (see :mod:`phasegraph.skills.guards.reaper`).
REAPER = Path(__file__).with_name("reaper.py")
#: Seconds to keep reading a program's output after it exited: what it started may still
#: write, but a child holding the pipe does not keep the step waiting past this.
PIPE_GRACE = 1.0
#: Seconds the supervisor gets to end everything once told; then its group is killed.
REAP_GRACE = 5.0


def resolve_program(name: str, *, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """The file ``name`` runs, found as exec does (``PATH`` from ``env``, a path with a slash
    from ``cwd``); :class:`FileNotFoundError` or :class:`PermissionError` as subprocess raises."""
    if os.sep in name:
        path = cwd / name  # an absolute name stays itself
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
        if not os.access(path, os.X_OK) or path.is_dir():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return str(path)
    path_var = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=path_var)
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return found


@dataclass
class _Capture:
    """One stream's output, capped; kept outside the reading task so a cancelled read keeps
    what it had."""

    cap: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def truncated(self) -> bool:
        return self.size > self.cap

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            if self.size < self.cap:
                self.chunks.append(chunk[: self.cap - self.size])
            self.size += len(chunk)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


async def run_program(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    output_cap: int = 2_000_000,
    stdin: bytes | asyncio.Future[bytes] | None = None,
    supervised: bool = True,
) -> ProcResult:
    """Run ``argv`` (no shell) in ``cwd``; nothing it starts outlives it.

    The program runs under a small supervisor (:mod:`phasegraph.skills.guards.reaper`): when
    it exits, times out or is cancelled, or when phasegraph itself dies (SIGKILL
    included), every process it started is killed, those that detached with
    ``setsid`` or a double fork included (on Linux; elsewhere its process group).
    Output is read until the pipes close, or :data:`PIPE_GRACE` seconds after the program
    exited; beyond ``output_cap`` bytes per stream it is dropped and flagged.

    ``stdin`` may be a future: the program starts now and gets its input when the future
    is done (a program made ready ahead of its turn, :mod:`phasegraph.skills.run_pytest.ahead`);
    its ``timeout`` then counts from that moment, and if it ends first the call returns
    (unfed). Cancel the call to end it unfed.

    ``supervised=False`` spares the supervisor's interpreter start (tens of ms) for
    phasegraph's own short tools that start nothing of the user's (ripgrep, git's
    read-only commands): they run in a process group of their own, killed when they end.
    """
    # Finding the program stats files: a worker thread, never a blocking call on the loop.
    executable = await asyncio.to_thread(resolve_program, argv[0], cwd=cwd, env=env)
    ours, theirs = socket.socketpair() if supervised else (None, None)
    try:
        proc = await asyncio.create_subprocess_exec(
            *(_supervised(executable, argv, theirs.fileno(), env) if theirs else argv),
            cwd=str(cwd),
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            pass_fds=(theirs.fileno(),) if theirs else (),
        )
    except BaseException:
        if ours:
            ours.close()
        raise
    finally:
        if theirs:
            theirs.close()
    if ours is None:
        if not isinstance(stdin, bytes | None):
            raise ValueError("a program fed later runs supervised")
        return await _unsupervised(proc, argv, timeout, output_cap, stdin)
    ours.setblocking(False)
    out, err, readers = _read_output(proc, output_cap)
    status: int | None = None
    timed_out = False
    ended = asyncio.ensure_future(_program_status(ours))
    try:
        if not isinstance(stdin, bytes | None):  # fed later: its timeout counts from then on
            first: list[asyncio.Future[Any]] = [stdin, ended]
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            stdin = b"" if ended.done() else stdin  # one that ended unfed: its pipe closed
        async with asyncio.timeout(timeout):
            await _feed(proc, stdin)
            status = await ended
            # The program is done; what it started may still hold its pipes for a moment.
            await asyncio.wait(readers, timeout=PIPE_GRACE)
    except TimeoutError:
        timed_out = True
    except BaseException:
        ours.close()  # the supervisor kills everything, even if this process ends now
        for reader in [ended, *readers]:
            reader.cancel()
        # Let go of the program while the loop still runs: a stdin still open (a program
        # never fed) and an unreaped supervisor would otherwise be closed by the garbage
        # collector after the loop (an "Event loop is closed" traceback on Ctrl-C).
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(proc.wait(), PIPE_GRACE)
        raise
    # Done with the program: the supervisor kills whatever is left (a server a test
    # forgot, a child holding stdout) and exits.
    ended.cancel()  # still waiting only when the time ran out
    ours.close()
    try:
        await asyncio.wait_for(proc.wait(), REAP_GRACE)
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
    # Everything under the supervisor is gone and its pipes with it, unless something
    # escaped it (no subreaper outside Linux): stop reading after the grace.
    _, pending = await asyncio.wait(readers, timeout=PIPE_GRACE)
    for reader in pending:
        reader.cancel()
    if status is not None:
        returncode = os.waitstatus_to_exitcode(status)
    else:  # the supervisor ends as the program ended (exit code or signal)
        returncode = proc.returncode if proc.returncode is not None else -1
    return ProcResult(
        argv=tuple(argv),
        returncode=returncode,
        stdout="" if timed_out else out.text(),
        stderr="" if timed_out else err.text(),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def _read_output(
    proc: asyncio.subprocess.Process, output_cap: int
) -> tuple[_Capture, _Capture, list[asyncio.Task[None]]]:
    """Start reading the program's stdout and stderr, each capped at ``output_cap``."""
    out, err = _Capture(output_cap), _Capture(output_cap)
    readers = [
        asyncio.create_task(out.drain(proc.stdout)),
        asyncio.create_task(err.drain(proc.stderr)),
    ]
    return out, err, readers


async def _feed(
    proc: asyncio.subprocess.Process, stdin: bytes | asyncio.Future[bytes] | None
) -> None:
    """Give the program its input, if any (a future's once it is done); one that exits
    without reading it is fine."""
    if stdin is not None and proc.stdin is not None:
        data = stdin if isinstance(stdin, bytes) else await stdin
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(data)
            await proc.stdin.drain()
        proc.stdin.close()


async def _unsupervised(
    proc: asyncio.subprocess.Process,
    argv: Sequence[str],
    timeout: float,
    output_cap: int,
    stdin: bytes | None,
) -> ProcResult:
    """Wait for a program started in a process group of its own; kill the group after."""
    out, err, readers = _read_output(proc, output_cap)
    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await _feed(proc, stdin)
            await proc.wait()
            await asyncio.wait(readers, timeout=PIPE_GRACE)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(proc.pid)
        for reader in readers:
            reader.cancel()
    await proc.wait()
    return ProcResult(
        argv=tuple(argv),
        returncode=proc.returncode if proc.returncode is not None else -1,
        stdout="" if timed_out else out.text(),
        stderr="" if timed_out else err.text(),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def _supervised(
    executable: str, argv: Sequence[str], channel: int, env: Mapping[str, str] | None
) -> list[str]:
    """The supervisor's command line for ``argv``.

    Python adds ``LC_CTYPE`` to its own environment when the locale is C (PEP 538);
    the supervisor removes it again unless the program was given one.
    """
    given = env if env is not None else os.environ
    unset = "" if "LC_CTYPE" in given else "LC_CTYPE"
    return [sys.executable, "-I", "-S", str(REAPER), str(channel), unset, executable, *argv]


async def _program_status(channel: socket.socket) -> int | None:
    """The program's wait status, as the supervisor reports it (``None``: it died first)."""
    loop = asyncio.get_running_loop()
    data = b""
    while not data.endswith(b"\n"):
        chunk = await loop.sock_recv(channel, 64)
        if not chunk:
            return None
        data += chunk
    return int(data)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
