"""Subprocesses for skills: never through a shell, with timeouts and capped output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


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


async def run_program(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    output_cap: int = 2_000_000,
    stdin: bytes | None = None,
) -> ProcResult:
    """Run ``argv`` (no shell) in ``cwd``; kill its whole process group on timeout.

    The program runs in a session of its own; when it ends (or times out), what
    it left running in its process group is killed too. Output beyond
    ``output_cap`` bytes per stream is dropped and flagged.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    truncated = False

    async def drain(stream: asyncio.StreamReader | None) -> bytes:
        nonlocal truncated
        if stream is None:
            return b""
        chunks: list[bytes] = []
        size = 0
        while chunk := await stream.read(65536):
            if size < output_cap:
                chunks.append(chunk[: output_cap - size])
            if size + len(chunk) > output_cap:
                truncated = True
            size += len(chunk)
        return b"".join(chunks)

    async def communicate() -> tuple[bytes, bytes]:
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            await proc.stdin.drain()
            proc.stdin.close()
        out, err = await asyncio.gather(drain(proc.stdout), drain(proc.stderr))
        await proc.wait()
        return out, err

    timed_out = False
    try:
        out, err = await asyncio.wait_for(communicate(), timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(proc.pid)
        # A grandchild that left the group may hold the pipes open: do not wait for it forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        out, err = b"", b""
    except BaseException:
        _kill_group(proc.pid)
        raise
    # Whatever the program started in its group and left running (a server a test forgot,
    # a background job) stops with it: nothing a step launched outlives the step.
    _kill_group(proc.pid)
    return ProcResult(
        argv=tuple(argv),
        returncode=proc.returncode if proc.returncode is not None else -1,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        timed_out=timed_out,
        truncated=truncated,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
