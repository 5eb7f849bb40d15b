"""Undo a run: put back the files it wrote and, if it committed, commit the revert."""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegraph.graph.run_store import file_hash
from phasegraph.skills.base import SkillContext
from phasegraph.skills.errors import UndoError
from phasegraph.skills.git_checkpoint import SKILL as GIT_CHECKPOINT
from phasegraph.skills.gitrepo import git_env, run_git_sync
from phasegraph.skills.workspace import atomic_write, resolve_in_workspace


@dataclass
class UndoResult:
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    commit: str | None = None


def _before(workspace: Path, head: str, rel: str) -> bytes:
    """The file's bytes as a checkout of ``head`` writes them (filters and line endings applied)."""
    shown = subprocess.run(
        ["git", "cat-file", "--filters", f"{head}:{rel}"],
        cwd=workspace,
        env=git_env(),
        capture_output=True,
        check=False,
    )
    if shown.returncode != 0:
        raise UndoError(
            f"{rel} was not in the repository at the start of the run ({head[:7]}), so its "
            "earlier bytes are unknown; restore it by hand"
        )
    return shown.stdout


async def undo_run(values: dict[str, Any], *, force: bool = False) -> UndoResult:
    """Undo the run whose final state is ``values`` (from its checkpointer).

    Refuses when a file the run wrote has changed since (``force`` overrides),
    and when the workspace was not a git repository at the start.
    """
    workspace = Path(values["workspace"])
    head: str | None = values.get("head")
    written: list[str] = list(values.get("written", []))
    created = set(values.get("created", []))
    left: dict[str, str | None] = dict(values.get("written_sha", {}))
    if not written:
        raise UndoError("the run wrote no files: there is nothing to undo")
    if head is None:
        raise UndoError(
            f"{workspace} was not a git repository with a commit when the run started, "
            "so there is no earlier state to go back to"
        )
    before = {f: None if f in created else _before(workspace, head, f) for f in written}
    paths = {f: resolve_in_workspace(workspace, f) for f in written}
    now = {f: paths[f].read_bytes() if paths[f].is_file() else None for f in written}
    if now == before:
        raise UndoError("the workspace already holds what it held before the run: nothing to undo")
    moved = [f for f in written if file_hash(paths[f]) != left.get(f)]
    if moved and not force:
        raise UndoError(
            f"{', '.join(moved)} changed after the run wrote it; undo would throw those "
            "changes away. Save them elsewhere, or run undo with --force"
        )
    result = UndoResult()
    for rel, data in before.items():
        path = paths[rel]
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            _prune_empty_parents(path.parent, workspace)
            result.removed.append(rel)
        else:
            atomic_write(path, data)
            result.restored.append(rel)
    commit = values.get("commit_sha")
    if commit:
        subject = run_git_sync(workspace, "log", "-1", "--format=%s", commit).stdout.strip()
        outcome = await GIT_CHECKPOINT.run(
            GIT_CHECKPOINT.parse_args({"message": f'Revert "{subject}"\n\nThis reverts {commit}.'}),
            SkillContext(workspace=workspace, step_id="undo", run_files=tuple(written)),
        )
        result.commit = str(outcome.data.get("sha"))
    return result


def _prune_empty_parents(folder: Path, workspace: Path) -> None:
    root = workspace.resolve()
    while folder.resolve() != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
