"""Git against a remote, read and written safely: clone at a ref or a commit, push a run's
commit to a new branch (never a force, never the base ref), and undo that push.

Every function is synchronous (callers use ``asyncio.to_thread``) and runs git through
:func:`~phasegraph.skills.guards.gitrepo.run_git_sync`: no prompts, a timeout, its process
group killed on expiry. Every URL is first checked against the owner's list
(:class:`RemoteAccess`) and git runs with ``GIT_ALLOW_PROTOCOL`` set to the protocols that
list uses. What git prints goes into a message only through :func:`shown_url` and redaction.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from phasegraph.skills.core.errors import InputRefused, RemoteError
from phasegraph.skills.guards.gitrepo import run_git_sync
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.guards.remote_access import (
    CONTROL,
    REMOTES,
    RemoteAccess,
    shown_url,
    valid_branch,
)
from phasegraph.skills.guards.remote_git import (
    FULL_SHA,
    git_remote,
    git_said,
    is_transient,
    remote_failure,
    remote_head,
    require_push_branch,
    require_sha,
    require_url,
    time_left,
)
from phasegraph.skills.guards.remote_undo import undo_commands, undo_push

__all__ = [
    "REMOTES",
    "Pushed",
    "RemoteAccess",
    "clone_at",
    "clone_at_commit",
    "push_new_branch",
    "remote_head",
    "shown_url",
    "start_branch",
    "undo_commands",
    "undo_push",
    "valid_branch",
]

_SHORT_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
#: How many of the remote's branches a bad-ref message names.
_NAMED = 5


@dataclass(frozen=True)
class Pushed:
    """What :func:`push_new_branch` left on the remote."""

    sha: str
    """The commit the remote branch now points to."""
    already: bool
    """An earlier attempt (a worker that died) had pushed the same change."""


def clone_at(url: str, ref: str, dest: Path, access: RemoteAccess, *, timeout: float = 600) -> str:
    """Clone ``url`` into ``dest`` (which must not exist) and check out ``ref`` detached: a
    branch or tag of the remote, or a commit sha. Returns the base commit's sha.

    Raises :class:`InputRefused` for a URL the owner's list refuses or a ref the remote does
    not have (naming its branches), :class:`RemoteError` when git fails; either way nothing
    is left at ``dest``.
    """
    require_url(url, access)
    if not ref or ref.startswith("-") or CONTROL.search(ref):
        raise InputRefused(
            f"ref {ref!r} is not a ref: pass a branch or tag of {shown_url(url)}, or a commit sha"
        )
    deadline = time.monotonic() + timeout
    _clone(url, dest, access, deadline)
    try:
        sha = _resolve(dest, url, ref, access, deadline)
        if sha is None:
            raise InputRefused(
                f"ref {ref!r} is no branch, tag or commit of {shown_url(url)}: "
                f"{_branches_named(dest)}; pass one of them, a tag or a commit sha as ref"
            )
        _detach(dest, url, sha, access, deadline)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return sha


def clone_at_commit(
    url: str, base: str, dest: Path, access: RemoteAccess, *, timeout: float = 600
) -> None:
    """Clone ``url`` into ``dest`` and check out commit ``base`` exactly (fetched by sha when
    no branch holds it any more), as a worker taking over a run does.

    :class:`RemoteError` when the remote no longer has ``base``; nothing is left at ``dest``.
    """
    require_url(url, access)
    require_sha(base, "base commit")
    deadline = time.monotonic() + timeout
    _clone(url, dest, access, deadline)
    try:
        if not _has_commit(dest, base):
            fetched = git_remote(
                dest, access, deadline, "fetch", "--quiet", "--no-tags", "origin", base
            )
            if not _has_commit(dest, base):
                transient = fetched.returncode != 0 and is_transient(fetched)
                raise RemoteError(
                    f"commit {base} is gone from {shown_url(url)} (no branch holds it and it "
                    f"cannot be fetched by sha{_why(fetched, url)}): the run cannot go on from "
                    "it; start it again from a ref the remote has",
                    transient=transient,
                )
        _detach(dest, url, base, access, deadline)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def start_branch(workspace: Path, branch: str) -> None:
    """Create the local branch ``branch`` at HEAD and switch to it (nothing is pushed);
    switching to it when it already exists at HEAD (a retried step)."""
    why = valid_branch(branch)
    if why is not None:
        raise InputRefused(f"push branch {branch!r}: {why}")
    found = run_git_sync(workspace, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    head = run_git_sync(workspace, "rev-parse", "--verify", "--quiet", "HEAD").stdout.strip()
    if found.returncode == 0 and found.stdout.strip() != head:
        raise InputRefused(
            f"push branch {branch!r} already exists in the clone (the remote's default branch): "
            "name a new branch to push the run's commit to"
        )
    args = ("switch", "--quiet", branch) if found.returncode == 0 else ("switch", "-qc", branch)
    proc = run_git_sync(workspace, *args)
    if proc.returncode != 0:
        raise RemoteError(
            f"could not create branch {branch!r} in {workspace}: {git_said(proc.stderr)}"
        )


def push_new_branch(
    workspace: Path,
    url: str,
    branch: str,
    commit: str,
    base: str,
    access: RemoteAccess,
    *,
    protected: str,
    timeout: float = 600,
) -> Pushed:
    """Push ``commit`` to a new branch ``branch`` of ``url``, creating it; never a force,
    never ``protected`` (the ref the run cloned), never moving a branch that exists.

    ``--force-with-lease=refs/heads/<branch>:`` (empty: the branch must not exist) makes
    two pushers race safely. When the branch exists at ``commit``, or at a commit of the same
    tree on ``base`` (an earlier attempt of this run, whose worker died), that push stands:
    ``Pushed(..., already=True)``; other commits there are a :class:`RemoteError`. The
    result is confirmed with ``ls-remote``.
    """
    require_url(url, access)
    require_push_branch(branch, protected)
    require_sha(commit, "commit")
    require_sha(base, "base commit")
    deadline = time.monotonic() + timeout
    shown = shown_url(url)
    ref = f"refs/heads/{branch}"
    # An empty lease: the branch must not exist, so of two pushers only one creates it.
    lease = f"--force-with-lease={ref}:"
    args = ("push", "--porcelain", lease, "--", url, f"{commit}:{ref}")
    pushed = git_remote(workspace, access, deadline, *args)
    head = remote_head(url, branch, access, timeout=time_left(deadline))
    if pushed.returncode == 0:
        if head != commit:
            raise RemoteError(
                f"pushed {commit} to branch {branch!r} of {shown}, but ls-remote shows it at "
                f"{head}: someone changed it since; look at the branch before pushing again"
            )
        # git skips the lease of a ref already at the commit ("=": up to date): pushed before.
        up_to_date = any(line.startswith("=\t") for line in pushed.stdout.splitlines())
        return Pushed(commit, already=up_to_date)
    if head is None:
        raise remote_failure(f"push of {commit} to new branch {branch!r} failed", pushed, url)
    if head == commit:
        return Pushed(commit, already=True)
    if _same_change(workspace, url, branch, head, commit, base, access, deadline):
        return Pushed(head, already=True)
    raise RemoteError(
        f"branch {branch!r} already exists on {shown} with other commits (at {head[:12]}); "
        "name another branch or delete it"
    )


def _clone(url: str, dest: Path, access: RemoteAccess, deadline: float) -> None:
    if dest.exists() or dest.is_symlink():
        raise RemoteError(
            f"cannot clone into {dest}: it exists; a clone goes into a fresh folder (remove "
            "it, or give the run another clone folder)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    proc = git_remote(
        dest.parent, access, deadline, "clone", "--no-checkout", "--quiet", "--", url, str(dest)
    )
    if proc.returncode != 0 or proc.timed_out:
        shutil.rmtree(dest, ignore_errors=True)
        raise remote_failure(f"git clone of {shown_url(url)} failed", proc, url)


def _resolve(dest: Path, url: str, ref: str, access: RemoteAccess, deadline: float) -> str | None:
    """The commit ``ref`` names in a fresh clone: a branch of the remote, a tag, a sha."""
    if ref.startswith("refs/heads/"):
        names = [f"refs/remotes/origin/{ref.removeprefix('refs/heads/')}"]
    elif ref.startswith("refs/"):
        names = [ref]
    else:
        names = [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
    for name in names:
        found = _rev(dest, name)
        if found is not None:
            return found
    if not _SHORT_SHA.fullmatch(ref):
        return None
    sha = ref.lower()
    if FULL_SHA.fullmatch(sha) and not _has_commit(dest, sha):
        fetched = git_remote(dest, access, deadline, "fetch", "--quiet", "--no-tags", "origin", sha)
        if fetched.returncode != 0 and is_transient(fetched):
            raise remote_failure(f"fetching commit {sha} failed", fetched, url)
    found = _rev(dest, sha)
    return found if found is not None and found.startswith(sha) else None


def _rev(repo: Path, name: str) -> str | None:
    proc = run_git_sync(
        repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def _has_commit(repo: Path, sha: str) -> bool:
    return run_git_sync(repo, "cat-file", "-e", f"{sha}^{{commit}}").returncode == 0


def _branches_named(repo: Path) -> str:
    proc = run_git_sync(
        repo, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin/"
    )
    names = [n for n in proc.stdout.splitlines() if n and n != "HEAD"]
    if not names:
        return "it has no branches"
    more = f" and {len(names) - _NAMED} more" if len(names) > _NAMED else ""
    return f"its branches are {', '.join(names[:_NAMED])}{more}"


def _detach(repo: Path, url: str, sha: str, access: RemoteAccess, deadline: float) -> None:
    proc = git_remote(repo, access, deadline, "switch", "--quiet", "--detach", sha)
    if proc.returncode != 0:
        raise RemoteError(
            f"checking out {sha} of {shown_url(url)} failed: {git_said(proc.stderr, url)}; "
            "check the work directory's free space and the repository's checkout filters",
            transient=proc.timed_out,
        )


def _same_change(
    workspace: Path,
    url: str,
    branch: str,
    head: str,
    commit: str,
    base: str,
    access: RemoteAccess,
    deadline: float,
) -> bool:
    """Whether ``head`` (the remote branch) is ``commit``'s change committed again: one
    parent, ``base``, and the same tree (a died worker's push of this run)."""
    ref = f"refs/heads/{branch}"
    fetched = git_remote(
        workspace, access, deadline, "fetch", "--quiet", "--no-tags", "--", url, ref
    )
    if fetched.returncode != 0 or not _has_commit(workspace, head):
        return False
    shape = run_git_sync(workspace, "log", "-1", "--format=%P %T", head).stdout.split()
    tree = run_git_sync(workspace, "rev-parse", f"{commit}^{{tree}}").stdout.strip()
    return shape == [base, tree]


def _why(proc: ProcResult, url: str) -> str:
    return f": {git_said(proc.stderr, url)}" if proc.returncode != 0 else ""
