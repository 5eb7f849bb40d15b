"""One run per workspace: an advisory lock that dies with the process holding it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from phasegraph.skills.errors import WorkspaceBusy
from phasegraph.skills.workspace import state_dir


@contextlib.contextmanager
def workspace_lock(workspace: Path, thread_id: str) -> Iterator[None]:
    """Hold the workspace for ``thread_id``; refuse, naming the active thread, if taken.

    ``flock`` locks are released by the kernel when their process ends, however
    it ends (SIGKILL included), so a crashed run never leaves the lock stuck.
    """
    path = state_dir(workspace) / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            raise WorkspaceBusy(
                f"another run is active on {workspace}: thread {holder.get('thread', '?')} "
                f"(pid {holder.get('pid', '?')}); wait for it to finish, or stop it and "
                f"resume it with `phasegraph resume {holder.get('thread', 'THREAD')}`"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps({"thread": thread_id, "pid": os.getpid(), "since": time.time()}).encode(),
            0,
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
