"""Undo a run: put back the files it wrote and, if it committed, commit the revert.

The writer keeps the pre-image of every file a run overwrites or removes (:class:`Preimages`,
in the workspace's ``.phasegraph/undo/<run id>/``, which git ignores), so undo restores the
exact bytes with or without git, an ignored file (``.env``) included; the files and folders
the run created it removes. A run without pre-images (made by an earlier version) falls
back to git's copy at the run's start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegraph.graph.run_store import file_hash
from phasegraph.skills.base import SkillContext
from phasegraph.skills.errors import UndoError
from phasegraph.skills.git_checkpoint import SKILL as GIT_CHECKPOINT
from phasegraph.skills.gitrepo import git_env, run_git_sync
from phasegraph.skills.workspace import STATE_DIR, atomic_write, resolve_in_workspace, state_dir

#: The most bytes kept of one file a run overwrites; a write over it is refused before any write.
MAX_PREIMAGE_FILE = 16 * 1024 * 1024
#: The most bytes kept for one run, all its files together.
MAX_PREIMAGES_PER_RUN = 128 * 1024 * 1024


@dataclass
class UndoResult:
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    commit: str | None = None


class Preimages:
    """The bytes a run's writes replaced: a blob per content, and an index of

    ``files`` (each file the run was about to write: the sha256 of its bytes then, ``None``
    when it did not exist) and ``folders`` (those the run's writes were about to create).
    The first record of a file wins: it is the file as it was before the run touched it.
    Blocking (files): the writer calls it from a worker thread.
    """

    def __init__(self, workspace: Path, run_id: str) -> None:
        self.workspace = workspace
        self.run_id = run_id
        self.folder = workspace / STATE_DIR / "undo" / run_id

    def index(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"files": {}, "folders": []}
        return {"files": dict(data.get("files", {})), "folders": list(data.get("folders", []))}

    def kept_bytes(self) -> int:
        return sum(
            (self.folder / sha).stat().st_size for sha in self.index()["files"].values() if sha
        )

    def problem(self, steps: list[tuple[str, list[str]]]) -> str | None:
        """Why the pre-images of the files each step will write cannot all be kept within the
        caps (``None``: they can); ``steps`` pairs each step id with its files."""
        known = dict(self.index()["files"])
        total = self.kept_bytes()
        for step_id, files in steps:
            for rel in files:
                path = resolve_in_workspace(self.workspace, rel)
                if rel in known:
                    continue
                size = path.stat().st_size if path.is_file() else 0
                known[rel] = None
                if size > MAX_PREIMAGE_FILE:
                    return (
                        f"step {step_id!r}: {rel} holds {size} bytes; a run keeps the earlier "
                        "bytes of every file it overwrites so that undo can restore them, up "
                        f"to {MAX_PREIMAGE_FILE} bytes a file: change {rel} outside "
                        "phasegraph, or leave it out of the plan"
                    )
                total += size
                if total > MAX_PREIMAGES_PER_RUN:
                    return (
                        f"step {step_id!r}: with {rel}, the files this run would overwrite hold "
                        f"{total} bytes; a run keeps their earlier bytes so that undo can "
                        f"restore them, up to {MAX_PREIMAGES_PER_RUN} bytes per run: split the "
                        "plan into smaller runs"
                    )
        return None

    def keep(self, files: list[str]) -> None:
        """Keep the bytes of each of ``files`` not recorded yet (or that it does not exist)."""
        index = self.index()
        known: dict[str, str | None] = index["files"]
        fresh = [rel for rel in files if rel not in known]
        if not fresh:
            return
        state_dir(self.workspace, "undo", self.run_id)  # made with the .gitignore that hides it
        root = self.workspace.resolve()
        for rel in fresh:
            path = resolve_in_workspace(self.workspace, rel)
            if not path.is_file():
                known[rel] = None
                folder = path.parent
                while folder != root and not folder.exists():
                    index["folders"].append(folder.relative_to(root).as_posix())
                    folder = folder.parent
                continue
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if not (self.folder / sha).is_file():
                atomic_write(self.folder / sha, data, mode=0o600)  # may hold secrets (.env)
            known[rel] = sha
        index["folders"] = sorted(set(index["folders"]))
        atomic_write(self.folder / "index.json", json.dumps(index).encode(), mode=0o600)

    def original(self, rel: str) -> bytes | None:
        """The bytes ``rel`` held before the run (``None``: it did not exist); raises
        :class:`KeyError` when none were kept."""
        sha: str | None = self.index()["files"][rel]
        if sha is None:
            return None
        try:
            data = (self.folder / sha).read_bytes()
        except FileNotFoundError:
            data = b""
        if hashlib.sha256(data).hexdigest() != sha:
            raise UndoError(
                f"the kept copy of {rel} in {self.folder} is missing or damaged, so its earlier "
                "bytes are unknown; restore it by hand"
            )
        return data


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
    """Undo the run whose final state is ``values`` (from its checkpointer, or ``ainvoke``).

    Each file goes back to its kept pre-image (else, in git, to its bytes at the run's
    start); files and folders the run created are removed. Refuses when a file the run
    wrote has changed since (``force`` overrides).
    """
    workspace = Path(values["workspace"])
    head: str | None = values.get("head")
    written: list[str] = list(values.get("written", []))
    created = set(values.get("created", []))
    left: dict[str, str | None] = dict(values.get("written_sha", {}))
    if not written:
        raise UndoError("the run wrote no files: there is nothing to undo")
    kept = Preimages(workspace, str(values.get("run_id", "")))
    index = kept.index() if values.get("run_id") else {"files": {}, "folders": []}
    before = {f: _original(workspace, head, f, f in created, kept, index) for f in written}
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
            if not index["files"]:  # a run from before pre-images: its folders are not known
                _prune_empty_parents(path.parent, workspace)
            result.removed.append(rel)
        else:
            atomic_write(path, data)
            result.restored.append(rel)
    for folder in sorted(index["folders"], key=lambda f: f.count("/"), reverse=True):
        with contextlib.suppress(OSError):  # not empty (someone's files), or gone already
            resolve_in_workspace(workspace, folder).rmdir()
    commit = values.get("commit_sha")
    if commit:
        subject = run_git_sync(workspace, "log", "-1", "--format=%s", commit).stdout.strip()
        outcome = await GIT_CHECKPOINT.run(
            GIT_CHECKPOINT.parse_args({"message": f'Revert "{subject}"\n\nThis reverts {commit}.'}),
            SkillContext(workspace=workspace, step_id="undo", run_files=tuple(written)),
        )
        result.commit = str(outcome.data.get("sha"))
    return result


def _original(
    workspace: Path,
    head: str | None,
    rel: str,
    created: bool,
    kept: Preimages,
    index: dict[str, Any],
) -> bytes | None:
    """What ``rel`` held before the run: its pre-image, else git's copy at the run's start."""
    if rel in index["files"]:
        return kept.original(rel)
    if created:
        return None
    if head is None:
        raise UndoError(
            f"{rel}: its earlier bytes were not kept and {workspace} was not a git repository "
            "with a commit when the run started, so there is no earlier state to go back to; "
            "restore it by hand"
        )
    return _before(workspace, head, rel)


def _prune_empty_parents(folder: Path, workspace: Path) -> None:
    root = workspace.resolve()
    while folder.resolve() != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
