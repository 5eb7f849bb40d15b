"""The supervisor every subprocess runs under: nothing it starts outlives its step.

:func:`phasegraph.skills.guards.procs.run_program` starts ``python -I -S reaper.py FD EXE ARGV...``
instead of the program. The supervisor makes itself a child subreaper (Linux), so a
descendant that detaches (``setsid``, a double fork) is re-parented to it rather than to
init; it runs the program in a process group of its own; it writes the program's wait
status to ``FD`` (one end of a socket pair) when the program ends; and when the other end
closes, it kills every process left under it and exits with the program's status.

It starts once per program, so it imports as little as it can (no ``signal``, ``pathlib``
or ``ctypes`` package): an interpreter start with ``-I -S`` is most of its cost.

The other end closes when ``run_program`` is done with the program (output read, timeout,
cancellation), and also when phasegraph dies in any way at all, SIGKILL included: the
kernel closes a dead process's sockets. That is why a socket, and not PR_SET_PDEATHSIG,
ties the two together: a death signal fires when the *thread* that forked exits, and
is lost when the supervisor dies first. The supervisor also checks every half second
that its parent is still the one that started it.

Elsewhere than Linux there is no subreaper: the program's process group is killed, and a
descendant that left it (``setsid``) can survive. This file imports nothing but the
standard library: it runs with ``-I -S`` (no site, no environment variables of Python's).
"""

from __future__ import annotations

import os
import select
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
#: Seconds between two checks that the parent is still alive (and, without a pidfd,
#: that the program has not exited).
PARENT_CHECK = 0.5
POLL = 0.05
SIGKILL = 9


def _become_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER) through ``_ctypes``: the ``ctypes`` package costs an
    import several times the size of this whole supervisor."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import _ctypes

        class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]  # not subscriptable at run time
            _type_ = "i"

        class _Prctl(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _Int

        libc = _ctypes.dlopen(None)  # type: ignore[arg-type]  # None: the process's own symbols
        prctl = _Prctl(_ctypes.dlsym(libc, "prctl"))
        return bool(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except Exception:  # no libc prctl: the program's process group is still killed
        return False


def _children() -> list[int]:
    """The supervisor's own children (orphans re-parented to it included), from /proc."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as file:  # noqa: PTH123 (no pathlib)
            return [int(pid) for pid in file.read().split()]
    except OSError:
        return []


def _kill(pid: int, group: bool = False) -> None:
    try:
        if group:
            os.killpg(pid, SIGKILL)
        else:
            os.kill(pid, SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    """Runs one program, reports how it ended, and reaps everything under it."""

    def __init__(self, channel: int, executable: str, argv: list[str]) -> None:
        self.channel = channel
        self.parent = os.getppid()
        self.subreaper = _become_subreaper()
        self.status: int | None = None
        self.ending = False
        self.pid = self._start(executable, argv)
        try:  # readable when the program exits (Linux 5.3+); else waitpid is polled
            self.pidfd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def _start(self, executable: str, argv: list[str]) -> int:
        pid = os.fork()
        if pid == 0:  # the program: a process group of its own, then exec
            try:
                os.setpgid(0, 0)
                os.execv(executable, argv)
            except OSError as exc:
                os.write(2, f"phasegraph: cannot run {executable}: {exc}\n".encode())
            os._exit(127)
        try:  # noqa: SIM105 (no contextlib: imports cost here)
            os.setpgid(pid, pid)  # also here, so the group exists before any kill
        except OSError:
            pass
        # The supervisor lets go of the pipes: only the program's side holds them now.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        return pid

    def _reap(self) -> bool:
        """Collect exited children; whether any child is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.pid:
                self.status = status

    def _wait(self) -> None:
        """Sleep until the program exits or the channel speaks or closes (or a while)."""
        watched = [self.channel]
        if self.pidfd is not None and self.status is None:
            watched.append(self.pidfd)
        timeout = PARENT_CHECK if self.pidfd is not None or self.status is not None else POLL
        ready = select.select(watched, [], [], timeout)[0]
        if self.channel in ready:
            try:
                data = os.read(self.channel, 64)
            except OSError:
                data = b""
            if not data:  # run_program is done with the program, or phasegraph is gone
                self.ending = True
        if os.getppid() != self.parent:
            self.ending = True

    def run(self) -> int:
        try:
            while self.status is None and not self.ending:
                self._reap()
                if self.status is None:
                    self._wait()
            if self.status is not None:
                try:  # noqa: SIM105
                    os.write(self.channel, b"%d\n" % self.status)
                except OSError:  # run_program is gone already
                    pass
            # Wait for the word to end (what the program left may still be writing), unless
            # nothing is left to wait for.
            while not self.ending and self._reap():
                self._wait()
        finally:
            self.kill_all()
        return self.status if self.status is not None else SIGKILL

    def kill_all(self) -> None:
        """SIGKILL the program's group and every descendant, until no child is left."""
        _kill(self.pid, group=True)
        while True:
            if self.status is None:
                _kill(self.pid)  # in case it left its own group
            for pid in _children():
                _kill(pid)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:  # killed, not yet gone (or an orphan just re-parented): look again
                time.sleep(0.002)
            elif pid == self.pid:
                self.status = status


def _exit_like(status: int) -> None:
    """End the way the program ended: the same exit code, or the same signal."""
    if os.WIFSIGNALED(status):
        # Python catches SIGINT and ignores SIGPIPE; those end as 128 + the signal.
        os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def main(args: list[str]) -> None:
    """``FD UNSET EXE ARGV...``: UNSET names the variables Python itself added at startup
    (``LC_CTYPE``, from locale coercion), which the program must not see."""
    channel, unset, executable, *argv = args
    for name in filter(None, unset.split(",")):
        os.environ.pop(name, None)
    fd = int(channel)
    os.set_inheritable(fd, False)  # the program never holds the channel
    _exit_like(Supervisor(fd, executable, argv).run())


if __name__ == "__main__":
    main(sys.argv[1:])
