"""One run per workspace: an advisory lock that dies with the process holding it.

Every entry point takes it on the workspace the run really works in: ``drive`` (the
library's ``run_plan``/``run_request``/``resume_run``, ``as_tool`` and the CLI) for the whole
run, and the writer node for the writes, so a graph invoked directly or served never writes
beside another run either. The holder is named by an owner (the thread id): the same owner
may take the lock again inside its own hold (the CLI, then ``drive``, then the writer),
anyone else, in this process or another, is refused with :class:`WorkspaceBusy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from phasegraph.skills.core.errors import WorkspaceBusy
from phasegraph.skills.guards.workspace import state_dir


@dataclass
class _Hold:
    fd: int
    owner: str
    depth: int = 1


# flock conflicts between two descriptors of one process as between two processes, so the
# lock already refuses a second run in this process; this table only lets an owner re-enter.
_held: dict[str, _Hold] = {}
_guard = threading.Lock()


def _acquire(workspace: Path, owner: str) -> str:
    path = state_dir(workspace.resolve()) / "lock"
    key = str(path)
    with _guard:
        hold = _held.get(key)
        if hold is not None and hold.owner == owner:
            hold.depth += 1
            return key
        fd = _locked(path, workspace)
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, json.dumps({"thread": owner, "pid": os.getpid(), "since": time.time()}).encode(), 0
        )
        _held[key] = _Hold(fd, owner)
        return key


def _locked(path: Path, workspace: Path) -> int:
    """A descriptor of the lock file at ``path``, locked; :class:`WorkspaceBusy` if held.

    The file exists only while a run holds it (the holder removes it when it lets go), so
    a run leaves nothing behind. A lock taken on a file the holder removed in the meantime
    is no lock: then the file is opened again.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise WorkspaceBusy(
                f"another run is active on {workspace}: thread {holder.get('thread', '?')} "
                f"(pid {holder.get('pid', '?')}); wait for it to finish, or stop it and "
                f"resume it with `phasegraph resume {holder.get('thread', 'THREAD')}`"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed it as we opened it: take the new one


def _release(key: str) -> None:
    with _guard:
        hold = _held[key]
        hold.depth -= 1
        if hold.depth:
            return
        del _held[key]
        try:
            Path(key).unlink(missing_ok=True)  # still locked: no one else holds this file
            fcntl.flock(hold.fd, fcntl.LOCK_UN)
        finally:
            os.close(hold.fd)


@contextlib.contextmanager
def workspace_lock(workspace: Path, thread_id: str) -> Iterator[None]:
    """Hold the workspace for ``thread_id``; refuse, naming the active thread, if taken.

    ``flock`` locks are released by the kernel when their process ends, however
    it ends (SIGKILL included), so a crashed run never leaves the lock stuck.
    """
    key = _acquire(workspace, thread_id)
    try:
        yield
    finally:
        _release(key)


@contextlib.asynccontextmanager
async def hold_workspace(workspace: Path, owner: str) -> AsyncIterator[None]:
    """:func:`workspace_lock` for async code: taken and given back in a worker thread."""
    key = await asyncio.to_thread(_acquire, workspace, owner)
    try:
        yield
    finally:
        await asyncio.to_thread(_release, key)


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
