"""Git facts about a workspace (is it a repo, HEAD, dirty files, identity, a half-done
operation), read safely.

The fact helpers are plain functions, so preflight and the demo can call them
outside an event loop; async code calls them through ``asyncio.to_thread``.
``run_git`` is the async runner for the commands a skill performs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.guards.procs import ProcResult, find_program, run_program

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
    # Commands that run the user's hooks run under the supervisor (nothing a hook starts
    # outlives it); git's other commands start nothing of the user's.
    supervised = any(arg in HOOKED for arg in args)
    return await run_program(
        argv, cwd=workspace, timeout=timeout, env=git_env(env), supervised=supervised
    )


#: git commands that may run the repository's hooks.
HOOKED = frozenset({"commit", "merge", "rebase", "am", "checkout", "switch", "push", "revert"})


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


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _is_git_dir(folder: Path) -> bool:
    """Whether ``folder`` is a git directory, by git's test: HEAD, objects/ and refs/."""
    try:
        if not ((folder / "objects").is_dir() and (folder / "refs").is_dir()):
            return False
        head = (folder / "HEAD").read_text(errors="replace")[:200].strip()
    except OSError:
        return False
    return head.startswith("ref: refs/") or _SHA.fullmatch(head) is not None


def git_dir_problem(workspace: Path) -> str | None:
    """Why ``workspace`` is git's own directory rather than a work tree, or ``None``.

    A bare repository, a ``.git`` folder or any folder inside one holds git's own files
    (``config``, ``hooks/``): a run must never treat them as the project's. Read from the
    files alone, so it holds where git is not installed (or refuses to look).
    """
    root = Path(workspace).resolve()
    found = next((f for f in (root, *root.parents) if f.name == ".git" or _is_git_dir(f)), None)
    if found is None:
        return None
    where = "is" if found == root else f"is inside {found}, which is"
    if found.name == ".git":
        return (
            f"workspace {str(root)!r} {where} the git directory of the repository at "
            f"{found.parent}: a run would write git's own files (config, hooks/); "
            f"pass --workspace {found.parent} (the work tree) instead"
        )
    return (
        f"workspace {str(root)!r} {where} a git directory (a bare repository, with no work "
        "tree): its config and hooks/ are git's own files, not a project's; clone it "
        f"(git clone {found} DIR) and pass --workspace DIR"
    )


#: Half-done operations, by the path git keeps in the git directory while one is under
#: way: the operation, and the commands that finish or abort it. First match wins.
_OPERATIONS = (
    ("rebase-merge", "rebase", "git rebase --continue / git rebase --abort"),
    ("rebase-apply/applying", "git am", "git am --continue / git am --abort"),
    ("rebase-apply", "rebase", "git rebase --continue / git rebase --abort"),
    ("MERGE_HEAD", "merge", "git merge --continue / git merge --abort"),
    ("CHERRY_PICK_HEAD", "cherry-pick", "git cherry-pick --continue / git cherry-pick --abort"),
    ("REVERT_HEAD", "revert", "git revert --continue / git revert --abort"),
    ("BISECT_LOG", "bisect", "git bisect reset"),
)

#: How many conflicted paths a problem names before it says "and N more".
_LISTED = 5


def repo_state_problems(
    workspace: Path,
    *,
    locks: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT,
) -> list[str]:
    """What in the state of the repository around ``workspace`` makes a run unsafe now.

    Each problem names the state and the commands that get out of it: a merge, rebase,
    ``git am``, cherry-pick, revert or bisect under way, paths in conflict, and (with
    ``locks``) the index lock another git process holds or a crashed one left. Empty
    when the repository is ready, or when ``workspace`` is not inside a work tree.
    """
    if not Path(workspace).is_dir():
        return []
    markers = [path for path, _, _ in _OPERATIONS]
    asked = [arg for m in [*markers, "index"] for arg in ("--git-path", m)]
    proc = run_git_sync(workspace, "rev-parse", "--show-toplevel", *asked, env=env, timeout=timeout)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != len(markers) + 2:
        # Asked only now, when it matters: one git call fewer on every ready repository.
        if not is_git_repo(workspace, env=env, timeout=timeout):
            return []
        raise SkillError(f"git rev-parse failed in {workspace}: {proc.stderr.strip()[-500:]}")
    top, paths, index = Path(lines[0]), lines[1:-1], Path(workspace, lines[-1])
    conflicts = _conflicted(top, env=env, timeout=timeout)
    problems: list[str] = []
    for (_, operation, fix), path in zip(_OPERATIONS, paths, strict=True):
        if Path(workspace, path).exists():
            problems.append(
                f"a {operation} is in progress in {top} ({path}){_in_conflict(conflicts)}: "
                f"finish or abort the {operation} first: {fix}"
            )
            break
    else:
        if conflicts:
            problems.append(
                f"files are in conflict in {top}{_in_conflict(conflicts)}: resolve them and "
                "git add them, or put them back with git checkout --merge -- FILE, first"
            )
    lock = Path(f"{index}.lock")
    if locks and lock.exists():
        problems.append(
            f"{lock} exists: another git process is using the repository, or one crashed and "
            f"left it behind; wait for it, or, if no git process is running, remove {lock}"
        )
    return problems


def _conflicted(top: Path, *, env: Mapping[str, str] | None, timeout: float) -> list[str]:
    """Repository-relative paths with unmerged index entries (in conflict)."""
    proc = run_git_sync(top, "ls-files", "--unmerged", "-z", env=env, timeout=timeout)
    return sorted({e.split("\t", 1)[1] for e in proc.stdout.split("\0") if "\t" in e})


def _in_conflict(paths: list[str]) -> str:
    if not paths:
        return ""
    shown = ", ".join(paths[:_LISTED])
    more = f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else ""
    return f", with conflicts in {shown}{more}"


def commit_landed(workspace: Path, before: str | None, message: str) -> tuple[str, int] | None:
    """The commit an interrupted run made on top of ``before``, if it made one: its sha and
    how many commits are on top of it now (0: it is HEAD; -1: not on HEAD's first-parent line).

    The run's commit is the one after ``before`` whose parent is ``before`` and whose message
    is the step's: the user may have committed on top of it since.
    """
    head = head_sha(workspace)
    if head is None or head == before:
        return None
    span = f"{before}..{head}" if before else head
    shown = run_git_sync(workspace, "log", "-z", "--format=%H %P%n%B", span)
    for entry in shown.stdout.split("\0"):
        ids, _, body = entry.partition("\n")
        sha, *parents = ids.split() or [""]
        if sha and parents == ([before] if before else []) and body.strip() == message.strip():
            return sha, _commits_on_top(workspace, sha, head)
    return None


def _commits_on_top(workspace: Path, sha: str, head: str) -> int:
    if sha == head:
        return 0
    count = run_git_sync(workspace, "rev-list", "--count", "--first-parent", f"{sha}..{head}")
    above = int(count.stdout.strip() or 0)
    back = run_git_sync(workspace, "rev-parse", "--verify", "--quiet", f"{head}~{above}")
    return above if back.stdout.strip() == sha else -1


def committed_since(
    workspace: Path, before: str | None, files: list[str], head: str | None
) -> str | None:
    """The latest commit after ``before`` that touched ``files``, when every one of them is
    now as HEAD (``head``) holds it: someone else (the user) committed the run's changes."""
    if not files or head in (None, before):
        return None
    status = run_git_sync(
        workspace, "status", "--porcelain", "-z", "--untracked-files=all", "--", *files
    )
    if status.returncode != 0 or status.stdout:
        return None
    span = f"{before}..HEAD" if before else "HEAD"
    found = run_git_sync(workspace, "log", "-1", "--format=%H", span, "--", *files)
    return found.stdout.strip() or None


def commit_subject(workspace: Path, sha: str) -> str:
    """The first line of commit ``sha``'s message."""
    return run_git_sync(workspace, "log", "-1", "--format=%s", sha).stdout.strip()
