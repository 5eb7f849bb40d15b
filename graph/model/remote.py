"""A remote run: the repository it clones, and the server owner's settings for remote runs.

A run's input may name a repository (``repo``, ``ref``, ``push``) instead of a workspace: the
run clones it into a folder of the owner's work directory, works there, and pushes its commit
to a new branch. What may be cloned, where clones go and which prepare step may run after a
clone are the owner's to say, in the environment of the process that runs the graph (the
server's, for a served run): never the client's.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired

from typing_extensions import TypedDict

from phasegraph.graph.model.context import positive_number
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.guards.remote_access import RemoteAccess, shown_url, valid_branch

#: Where clones go (default: ``<tempdir>/phasegraph-work``); one folder per run.
WORK_DIR_SETTING = "PHASEGRAPH_WORK_DIR"
#: The prepare command every clone gets (run without a shell, split like a shell would).
PREPARE_SETTING = "PHASEGRAPH_PREPARE"
#: More prepare commands (separated by ``;``) a repository's ``[tool.phasegraph] prepare``
#: may name; a repository may name no other.
PREPARE_ALLOW_SETTING = "PHASEGRAPH_PREPARE_ALLOW"
#: Seconds the prepare step may take (default 600).
PREPARE_TIMEOUT_SETTING = "PHASEGRAPH_PREPARE_TIMEOUT"


#: The todo rows of a remote run's own steps, in the order they run (``:`` never occurs in
#: a plan step's id, so they never meet one).
REMOTE_ROWS = ("remote:checkout", "remote:prepare", "remote:push")
CHECKOUT, PREPARE, PUSH = REMOTE_ROWS


class RemoteRun(TypedDict):
    """Where a remote run came from and goes to, as the checkout node recorded it."""

    repo: str
    """The repository's URL, as given (credentials are refused in it)."""
    ref: str
    """The branch, tag or commit the run started from."""
    push: str
    """The new branch the run's commit is pushed to."""
    base: str
    """The commit ``ref`` named when the run cloned it: a worker that takes the run over
    clones exactly this commit."""
    clone: str
    """The clone's folder name under the work directory (the same on every worker)."""
    prepare: list[str]
    """The prepare step's command (empty: none), run again by a worker that takes over."""
    pushed: NotRequired[str | None]
    """The commit the remote branch points to once pushed."""


def remote_input_problem(state: Mapping[str, Any]) -> str | None:
    """Why a run's remote input has the wrong shape (``None``: it has the right one)."""
    repo, ref, push = state.get("repo"), state.get("ref", "HEAD"), state.get("push")
    if not isinstance(repo, str) or not repo.strip():
        return "repo must be the repository's git URL (a non-empty string)"
    if state.get("workspace"):
        return (
            "give either a workspace (a repository on this machine) or a repo (a git URL to "
            "clone), not both"
        )
    if not isinstance(ref, str) or not ref.strip() or ref.startswith("-"):
        return f"ref must name a branch, tag or commit of {shown_url(repo)}, not {ref!r}"
    if not isinstance(push, str):
        return (
            "push must name the new branch the run's commit goes to (e.g. "
            "'phasegraph/rename-x'): a remote run never pushes to the branch it started from"
        )
    why = valid_branch(push)
    if why is not None:
        return f"push: {why}"
    if push == ref or f"refs/heads/{push}" == ref:
        return f"push: {push!r} is the ref the run starts from; name a new branch to push to"
    return None


@dataclass(frozen=True)
class RemoteSettings:
    """The owner's settings for remote runs, read from the environment at run time."""

    access: RemoteAccess
    work_dir: Path
    prepare: tuple[str, ...]
    prepare_allow: tuple[tuple[str, ...], ...]
    prepare_timeout: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RemoteSettings:
        """Raises :class:`PreflightError` naming the setting that does not parse."""
        env = os.environ if environ is None else environ
        work = env.get(WORK_DIR_SETTING, "").strip()
        allow = [c for c in env.get(PREPARE_ALLOW_SETTING, "").split(";") if c.strip()]
        raw_timeout = env.get(PREPARE_TIMEOUT_SETTING, "").strip() or "600"
        timeout = positive_number(raw_timeout)
        if timeout is None:
            raise PreflightError(
                f"the owner's {PREPARE_TIMEOUT_SETTING}={raw_timeout!r} is not a number of seconds"
            )
        return cls(
            access=RemoteAccess.from_env(env),
            work_dir=Path(work).expanduser()
            if work
            else Path(tempfile.gettempdir()) / "phasegraph-work",
            prepare=_command(PREPARE_SETTING, env.get(PREPARE_SETTING, "")),
            prepare_allow=tuple(_command(PREPARE_ALLOW_SETTING, c) for c in allow),
            prepare_timeout=timeout,
        )

    def clone_path(self, remote: RemoteRun) -> Path:
        return self.work_dir / remote["clone"]

    def prepare_for(self, named: object) -> tuple[str, ...]:
        """The prepare command for a clone whose ``[tool.phasegraph] prepare`` is ``named``
        (``None``: the owner's default). Raises ``ValueError`` naming the fix for a command
        the owner did not allow."""
        if named is None:
            return self.prepare
        if not isinstance(named, str) or not named.strip():
            raise ValueError("[tool.phasegraph] prepare must be a command line (a string)")
        argv = tuple(shlex.split(named))
        if argv == self.prepare or argv in self.prepare_allow:
            return argv
        allowed = [shlex.join(c) for c in (self.prepare, *self.prepare_allow) if c]
        raise ValueError(
            f"[tool.phasegraph] prepare = {named!r} is not a prepare command this server's "
            f"owner allows ({', '.join(allowed) or 'none'}); the owner lists them in "
            f"{PREPARE_ALLOW_SETTING}"
        )


def _command(setting: str, line: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(line))
    except ValueError as exc:
        raise PreflightError(
            f"the owner's {setting} has a command that does not parse ({exc}: {line!r}); commands "
            "are split like a shell splits them, and separated by ';'"
        ) from exc


def clone_name(thread_id: str) -> str:
    """A run's clone folder name: the same for every worker that runs the thread."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", thread_id)[:40]
    return f"{readable}-{hashlib.sha256(thread_id.encode()).hexdigest()[:12]}"
