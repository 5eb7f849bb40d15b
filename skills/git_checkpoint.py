"""The git_checkpoint skill: commit exactly the files this run wrote, nothing else."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
from pathlib import Path, PurePosixPath

from pydantic import Field, field_validator

from phasegraph.skills.base import Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.retry import LOCKS, retrying
from phasegraph.skills.guards.gitrepo import (
    head_sha,
    identity_args,
    is_git_repo,
    repo_state_problems,
    run_git,
)
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.guards.workspace import resolve_in_workspace

#: Tries of a git command that finds the repository locked (index.lock, a ref lock).
LOCK_ATTEMPTS = 5

# ls-files options: respect .gitignore and friends, then the pathspecs.
_STD = ("--exclude-standard", "--")

_LOCK_PATH = re.compile(r"Unable to create '([^']+\.lock)'")

#: The hooks ``git commit`` runs before it makes the commit, any of which can refuse it.
COMMIT_HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg")


class GitCheckpointArgs(SkillArgs):
    """Arguments of ``git_checkpoint``."""

    #: The commit message.
    message: str = Field(min_length=1)

    @field_validator("message")
    @classmethod
    def _usable_message(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("the commit message contains a NUL byte")
        if not value.strip():
            raise ValueError("the commit message is empty")
        return value.strip()


class _Locked(Exception):
    """A git command failed because another process holds (or left) a lock."""

    def __init__(self, proc: ProcResult) -> None:
        super().__init__(proc.stderr)
        self.proc = proc


async def git_checkpoint(args: GitCheckpointArgs, ctx: SkillContext) -> SkillResult:
    """Commit the run's files (``ctx.run_files``) and confirm the commit holds exactly them.

    The user's other changes, staged or not, are neither committed nor unstaged:
    ``git commit --only`` builds the commit from HEAD plus the named paths. The index is
    touched only by that commit (new files get an intent-to-add entry first, so git knows
    them): when the commit fails, a hook refusing it or anything else, the index is left
    exactly as it was, so the user's next commit cannot pick up the run's change unseen.
    """
    step = ctx.step_id or None
    workspace = ctx.workspace
    if not ctx.run_files:
        raise SkillError("nothing to commit: the run wrote no files", step_id=step)
    files = await asyncio.to_thread(_normalize, ctx)
    try:  # whether this is a repository at all is asked only when HEAD is not there
        parent = await asyncio.to_thread(head_sha, workspace, env=ctx.env)
    except (SkillError, OSError):  # OSError: the folder itself is gone
        if await asyncio.to_thread(is_git_repo, workspace, env=ctx.env):
            raise  # git itself said why (not installed: is_git_repo raises that)
        raise SkillError(
            f"{workspace} is not a git repository, so there is nothing to checkpoint into; "
            "run `git init` there or leave git_checkpoint out of the plan",
            step_id=step,
        ) from None
    # Not the index lock: a commit waits a little for that one (below).
    busy = await asyncio.to_thread(repo_state_problems, workspace, locks=False, env=ctx.env)
    if busy:
        raise SkillError(f"cannot commit now: {'; '.join(busy)}", step_id=step)

    ignored = await _lines(ctx, "ls-files", "-z", "--others", "--ignored", *_STD, *files)
    if ignored:
        raise SkillError(
            f"the run wrote files that .gitignore excludes: {', '.join(sorted(ignored))}; "
            "un-ignore them or do not write them, then commit by hand",
            step_id=step,
        )
    changed = await _changed(ctx, files, parent)
    if not changed:
        raise SkillError(
            "nothing to commit: every file the run wrote is identical to HEAD "
            f"({', '.join(files)})",
            step_id=step,
        )

    identity = await asyncio.to_thread(identity_args, workspace, env=ctx.env)
    new = await _untracked(ctx, changed)
    if new:
        await _git_retrying(ctx, "add", "--intent-to-add", "--", *new)
    commit = ("commit", "--quiet", "--only", "-m", args.message, "--", *changed)
    try:
        await _git_retrying(ctx, *identity, *commit)
    except SkillError as exc:
        # A failed `commit --only` rolls its own index changes back; only ours are left.
        left = await _unstage(ctx, new)
        raise SkillError(
            await _commit_refused(ctx, exc, changed, args.message, left),
            step_id=step,
            transient=exc.transient,
            retried=exc.retried,
        ) from None

    sha = await asyncio.to_thread(head_sha, workspace, env=ctx.env)
    if sha is None or sha == parent:
        raise SkillError("git commit reported success but HEAD did not move", step_id=step)
    # diff-tree, unlike `git show`, ignores user settings such as log.showRoot. Paths stay
    # repo-relative so a file outside a sub-folder workspace cannot slip by unseen.
    listing = ("diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--no-renames")
    committed = sorted(await _lines(ctx, *listing, *(() if parent else ("--root",)), sha))
    prefix = "".join(await _lines(ctx, "rev-parse", "--show-prefix")).strip()
    if committed != [prefix + f for f in changed]:
        raise SkillError(
            f"commit {sha[:7]} holds {committed} instead of exactly the run's files "
            f"{changed} (a commit hook may have changed it); inspect it with `git show {sha[:7]}`",
            step_id=step,
        )
    unchanged = [f for f in files if f not in changed]
    return SkillResult(
        summary=f"committed {sha[:7]}: {len(changed)} file{'s' if len(changed) != 1 else ''}",
        data={
            "sha": sha,
            "files": changed,
            "message": args.message,
            "parent": parent,
            "unchanged": unchanged,
        },
    )


def _normalize(ctx: SkillContext) -> list[str]:
    """The run's files as sorted, unique workspace-relative POSIX paths, each confined."""
    out: set[str] = set()
    for rel in ctx.run_files:
        resolve_in_workspace(ctx.workspace, rel, step_id=ctx.step_id or None)
        out.add(PurePosixPath(rel.replace("\\", "/")).as_posix())
    return sorted(out)


async def _changed(ctx: SkillContext, files: list[str], parent: str | None) -> list[str]:
    """The run files whose working-tree content (or mode, or existence) differs from HEAD."""
    wanted = set(files)
    if parent is None:
        tracked = await _lines(ctx, "ls-files", "-z", "--", *files)
        on_disk = [f for f in files if Path(ctx.workspace, f).exists()]
        return sorted(wanted & (set(tracked) | set(on_disk)))
    # `git diff HEAD` compares the working tree with HEAD, whatever the index holds.
    differs = await _lines(
        ctx, "diff", "--name-only", "-z", "--no-renames", "--relative", "HEAD", "--", *files
    )
    new = await _lines(ctx, "ls-files", "-z", "--others", *_STD, *files)
    return sorted(wanted & (set(differs) | set(new)))


async def _untracked(ctx: SkillContext, files: list[str]) -> list[str]:
    """The files git does not know yet (not in the index): `commit --only` needs them known."""
    known = set(await _lines(ctx, "ls-files", "-z", "--", *files))
    return [f for f in files if f not in known]


async def _unstage(ctx: SkillContext, new: list[str]) -> list[str]:
    """Drop the intent-to-add entries of ``new`` again; the files git could not drop."""
    if not new:
        return []
    proc = await run_git(ctx.workspace, "update-index", "--force-remove", "--", *new, env=ctx.env)
    return [] if proc.returncode == 0 else new


async def _commit_refused(
    ctx: SkillContext, exc: SkillError, files: list[str], message: str, left: list[str]
) -> str:
    """What stopped the commit (the hooks that ran, by name), what is staged, what to do."""
    hooks = await _commit_hooks(ctx)
    output = exc.message.removeprefix("git checkpoint stopped: ")
    if hooks and "fatal:" not in output:
        names = ", ".join(f"{name} ({path})" for name, path in hooks)
        why = f"the repository's commit hook refused it: {names}; {output}"
    else:
        why = output
    quoted = _quoted(files)
    staged = (
        f"git could not unstage {', '.join(left)}: run git rm --cached -- {_quoted(left)}"
        if left
        else "nothing of the run is staged (the index is as it was)"
    )
    return (
        f"git commit failed, nothing was committed: {why}. The run's changes are in the "
        f"working tree and {staged}. Fix what stopped it, then commit by hand "
        f"(git add -- {quoted} && git commit -m {shlex.quote(message)}), or undo the run "
        "(phasegraph undo with the run's id or thread, or the report's undo commands)"
    )


def _quoted(files: list[str]) -> str:
    return " ".join(shlex.quote(f) for f in files)


async def _commit_hooks(ctx: SkillContext) -> list[tuple[str, str]]:
    """The commit hooks present and executable here (core.hooksPath honoured)."""
    proc = await run_git(ctx.workspace, "rev-parse", "--git-path", "hooks", env=ctx.env)
    if proc.returncode != 0:
        return []
    folder = Path(ctx.workspace, proc.stdout.strip())

    def present() -> list[tuple[str, str]]:
        found = ((name, folder / name) for name in COMMIT_HOOKS)
        return [(name, str(path)) for name, path in found if _executable(path)]

    return await asyncio.to_thread(present)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


async def _lines(ctx: SkillContext, *args: str) -> list[str]:
    """NUL-separated output of a read-only git command; failure is a SkillError."""
    proc = await run_git(ctx.workspace, *args, env=ctx.env, timeout=ctx.timeout)
    if proc.returncode != 0 or proc.timed_out:
        raise _failure(ctx, proc)
    return [item for item in proc.stdout.split("\0") if item]


async def _git_retrying(ctx: SkillContext, *args: str) -> ProcResult:
    """Run a git command that takes locks; retry a few times while a lock is held."""

    async def attempt() -> ProcResult:
        proc = await run_git(ctx.workspace, *args, env=ctx.env, timeout=ctx.timeout)
        if proc.returncode != 0 and _is_lock_failure(proc):
            raise _Locked(proc)
        if proc.returncode != 0 or proc.timed_out:
            raise _failure(ctx, proc)
        return proc

    try:
        async for trial in retrying(LOCK_ATTEMPTS, LOCKS, lambda e: isinstance(e, _Locked)):
            with trial:
                return await attempt()
    except _Locked as locked:
        found = _LOCK_PATH.search(locked.proc.stderr)
        lock = found.group(1) if found else ".git/index.lock"
        raise SkillError(
            f"git is locked: {lock} still exists after {LOCK_ATTEMPTS} tries. If no git "
            f"process is running (an editor, an IDE, another commit), the lock is stale: "
            f"remove {lock} and run again",
            step_id=ctx.step_id or None,
            transient=True,
            retried=True,
        ) from None
    raise AssertionError("unreachable: AsyncRetrying stops by raising")


def _is_lock_failure(proc: ProcResult) -> bool:
    err = proc.stderr
    return (
        "index.lock" in err or "cannot lock ref" in err or (".lock" in err and "File exists" in err)
    )


def _failure(ctx: SkillContext, proc: ProcResult) -> SkillError:
    command = "git " + _subcommand(proc.argv)
    if proc.timed_out:
        why = f"{command} did not finish within {ctx.timeout:g}s"
    else:
        output = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        why = f"{command} failed (exit {proc.returncode}): {output or '(no output)'}"
    return SkillError(f"git checkpoint stopped: {why}", step_id=ctx.step_id or None)


def _subcommand(argv: tuple[str, ...]) -> str:
    """The git subcommand in ``argv`` (skipping global options such as ``-c k=v``)."""
    words = iter(argv[1:])
    for word in words:
        if word == "-c":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


SKILL = Skill(
    name="git_checkpoint",
    kind=SkillKind.COMMIT,
    args_model=GitCheckpointArgs,
    fn=git_checkpoint,
    description="Commit exactly the files this run wrote (never the user's other changes)",
    programs=("git",),
)
