"""git run against a remote the owner allows: its environment (``GIT_ALLOW_PROTOCOL``) and
time budget, the checks of the URL, branch and sha it is given, its failures as
:class:`RemoteError` (redacted, transient or not), and the branch heads it reads.

The building blocks of :mod:`~phasegraph.skills.guards.gitremote` and
:mod:`~phasegraph.skills.guards.remote_undo`.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from phasegraph.skills.core.errors import InputRefused, RemoteError
from phasegraph.skills.core.redact import redact
from phasegraph.skills.guards.gitrepo import run_git_sync
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.guards.remote_access import RemoteAccess, shown_url, valid_branch

#: What git prints when the network, not the request, failed: worth another attempt.
TRANSIENT_MARKERS = (
    "could not resolve host",
    "temporary failure in name resolution",
    "connection reset",
    "connection refused",
    "timed out",
    "early eof",
    "rpc failed",
    "the requested url returned error: 429",
    "the requested url returned error: 502",
    "the requested url returned error: 503",
    "the requested url returned error: 504",
)
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
#: How much of what git said a message quotes (its last words: git ends on the cause).
_QUOTED = 600


def remote_head(url: str, branch: str, access: RemoteAccess, *, timeout: float = 60) -> str | None:
    """The commit branch ``branch`` of ``url`` points to, or ``None`` when it has none."""
    require_url(url, access)
    why = valid_branch(branch)
    if why is not None:
        raise InputRefused(f"branch {branch!r}: {why}")
    ref = f"refs/heads/{branch}"
    deadline = time.monotonic() + timeout
    proc = git_remote(Path(tempfile.gettempdir()), access, deadline, "ls-remote", "--", url, ref)
    if proc.returncode != 0 or proc.timed_out:
        raise remote_failure(f"git ls-remote of branch {branch!r} failed", proc, url)
    for line in proc.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def require_url(url: str, access: RemoteAccess) -> None:
    """:class:`InputRefused` with the owner's reason when ``url`` may not be reached."""
    why = access.refusal(url)
    if why is not None:
        raise InputRefused(why)


def require_sha(sha: str, what: str) -> None:
    """:class:`InputRefused` unless ``sha`` is a full commit sha."""
    if not FULL_SHA.fullmatch(sha):
        raise InputRefused(f"{what} {sha!r} is not a full commit sha (40 or 64 hex digits)")


def require_push_branch(branch: str, protected: str) -> None:
    """:class:`InputRefused` unless ``branch`` is a branch name other than ``protected``."""
    why = valid_branch(branch)
    if why is not None:
        raise InputRefused(f"push branch {branch!r}: {why}")
    if protected and branch == protected.removeprefix("refs/heads/"):
        raise InputRefused(
            f"push branch {branch!r} is the ref the run cloned: a run never pushes to its base "
            "ref; name a new branch (e.g. phasegraph/<change>) as push"
        )


def time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()``), at least one."""
    return max(1.0, deadline - time.monotonic())


def git_remote(cwd: Path, access: RemoteAccess, deadline: float, *args: str) -> ProcResult:
    """``git <args>`` in ``cwd``, allowed only the protocols of ``access``, by ``deadline``."""
    env = {**os.environ, "GIT_ALLOW_PROTOCOL": access.allowed_protocols()}
    return run_git_sync(cwd, *args, env=env, timeout=time_left(deadline))


def is_transient(proc: ProcResult) -> bool:
    """Whether a failed git command failed on the network (worth another attempt)."""
    said = proc.stderr.lower()
    return proc.timed_out or any(marker in said for marker in TRANSIENT_MARKERS)


def git_said(text: str, url: str = "") -> str:
    """The end of what git printed, ``url`` shown without credentials, secrets redacted."""
    if url:
        text = text.replace(url, shown_url(url))
    return redact(text.strip())[-_QUOTED:] or "git said nothing"


def remote_failure(what: str, proc: ProcResult, url: str) -> RemoteError:
    """A :class:`RemoteError` for a failed git command: what failed, git's last words
    (redacted), whether it is worth another attempt, and the fix."""
    if proc.timed_out:
        return RemoteError(
            f"{what}: git did not finish in time (timed out); try again, or give it a longer "
            "timeout if the repository is large",
            transient=True,
        )
    transient = is_transient(proc)
    fix = (
        "a network fault: try again"
        if transient
        else f"check that {shown_url(url)} exists and that the server's credentials (git's "
        "credential helpers, the SSH agent) may reach it"
    )
    return RemoteError(f"{what}: {git_said(proc.stderr, url)}; {fix}", transient=transient)
