"""Git facts about a workspace (is it a repo, HEAD, dirty files, identity), read safely.

The fact helpers are plain functions, so preflight and the demo can call them
outside an event loop; async code calls them through ``asyncio.to_thread``.
``run_git`` is the async runner for the commands a skill performs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from phasegraph.skills.errors import SkillError
from phasegraph.skills.procs import ProcResult, find_program, run_program

#: Seconds any one git command may take before it is stopped.
GIT_TIMEOUT = 60.0

#: Identity used for a commit when git has none configured.
FALLBACK_IDENTITY = ("-c", "user.name=phasegraph", "-c", "user.email=phasegraph@localhost")


def git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: the current environment) made safe for unattended git.

    No prompts, and no optional index locks: a read such as ``git status`` then
    never writes the index nor collides with a concurrent commit.
    """
    out = dict(env if env is not None else os.environ)
    out["GIT_TERMINAL_PROMPT"] = "0"
    out["GIT_OPTIONAL_LOCKS"] = "0"
    return out


def _git_argv(args: tuple[str, ...]) -> list[str]:
    git = find_program("git")
    if git is None:
        raise SkillError("git is not installed: install git (e.g. apt-get install git)")
    # Literal pathspecs: a file named "*.py" means that file, never a pattern.
    return [git, "--literal-pathspecs", *args]


async def run_git(
    workspace: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT,
) -> ProcResult:
    """Run ``git <args>`` in ``workspace`` (async); a failing command is returned, not raised.

    Raises :class:`SkillError` only when git is not installed.
    """
    argv = await asyncio.to_thread(_git_argv, args)  # finding git stats files: off the loop
    return await run_program(argv, cwd=workspace, timeout=timeout, env=git_env(env))


def run_git_sync(
    workspace: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT,
) -> ProcResult:
    """Run ``git <args>`` in ``workspace`` and wait; on timeout its process group is killed."""
    argv = _git_argv(args)
    proc = subprocess.Popen(
        argv,
        cwd=workspace,
        env=git_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return ProcResult(
        argv=tuple(argv),
        returncode=proc.returncode,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        timed_out=timed_out,
    )


def is_git_repo(
    workspace: Path, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
) -> bool:
    """Whether ``workspace`` is inside a git work tree (the repo root or a folder in it)."""
    if not Path(workspace).is_dir():
        return False
    proc = run_git_sync(workspace, "rev-parse", "--is-inside-work-tree", env=env, timeout=timeout)
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def head_sha(
    workspace: Path, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
) -> str | None:
    """The full sha of HEAD, or ``None`` in a repo with no commit yet.

    Raises :class:`SkillError` when ``workspace`` is not a git repository.
    """
    proc = run_git_sync(
        workspace, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", env=env, timeout=timeout
    )
    if proc.returncode == 0:
        return proc.stdout.strip()
    if not is_git_repo(workspace, env=env, timeout=timeout):
        raise SkillError(f"{workspace} is not a git repository")
    return None


def git_status(
    workspace: Path, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
) -> dict[str, str]:
    """Every modified, staged or untracked file under ``workspace`` with its status code.

    Keys are workspace-relative POSIX paths; values are porcelain v1 ``XY``
    codes (``" M"`` modified, ``"M "`` staged, ``"??"`` untracked, ...). Renames
    are listed as a deletion plus an addition. Ignored files are left out.
    Raises :class:`SkillError` when ``workspace`` is not a git repository.
    """
    prefix_proc = run_git_sync(workspace, "rev-parse", "--show-prefix", env=env, timeout=timeout)
    if prefix_proc.returncode != 0:
        raise SkillError(f"{workspace} is not a git repository")
    prefix = prefix_proc.stdout.strip()
    proc = run_git_sync(
        workspace,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--",
        ".",
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0 or proc.timed_out:
        raise SkillError(f"git status failed in {workspace}: {proc.stderr.strip()[-500:]}")
    status: dict[str, str] = {}
    # Porcelain paths are relative to the repository root, whatever the cwd.
    for entry in proc.stdout.split("\0"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if path.startswith(prefix):
            status[path[len(prefix) :]] = code
    return status


def dirty_files(
    workspace: Path, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
) -> list[str]:
    """Sorted workspace-relative paths that are modified, staged or untracked (not ignored).

    Raises :class:`SkillError` when ``workspace`` is not a git repository.
    """
    return sorted(git_status(workspace, env=env, timeout=timeout))


def has_identity(
    workspace: Path, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
) -> bool:
    """Whether a git identity (name and email) is configured for commits here.

    Configured means git config (repo, global or system) or the ``GIT_AUTHOR_*``
    / ``GIT_COMMITTER_*`` variables. A name and address git would only guess
    from the host are not an identity: a commit would carry something like
    ``root@buildhost`` (or fail), so callers fall back to :data:`FALLBACK_IDENTITY`.
    Works in a folder that is not (yet) a repository, from the user's config.
    """
    for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        proc = run_git_sync(
            workspace, "-c", "user.useConfigOnly=true", "var", var, env=env, timeout=timeout
        )
        if proc.returncode != 0:
            return False
    return True


def identity_args(
    workspace: Path, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
) -> list[str]:
    """Global git options to put before a committing subcommand: none when an identity
    is configured, else ``-c user.name=phasegraph -c user.email=phasegraph@localhost``.
    """
    if has_identity(workspace, env=env, timeout=timeout):
        return []
    return list(FALLBACK_IDENTITY)
