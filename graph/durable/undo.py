"""Undo a run: put back the files it wrote and, if it committed, commit the revert.

The writer keeps the pre-image of every file a run overwrites or removes (:class:`Preimages`,
in the workspace's ``.phasegraph/undo/<run id>/``, which git ignores), so undo restores the
exact bytes with or without git, an ignored file (``.env``) included; the files and folders
the run created it removes. A run without pre-images (made by an earlier version) falls
back to git's copy at the run's start.

An undo journals its own progress (:class:`UndoJournal`, beside the pre-images), so one
killed at any point is finished by the next: the files it had put back are recognised by
their bytes (not taken for the user's edits), and its revert commit, which names the run in
a trailer, is found rather than made twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.durable.run_index import find_run, undo_values
from phasegraph.graph.durable.undo_journal import COMMITTING, DONE, RESTORING, UndoJournal
from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, UndoError
from phasegraph.skills.git_checkpoint import SKILL as GIT_CHECKPOINT
from phasegraph.skills.guards.gitrepo import git_env, head_sha, run_git_sync
from phasegraph.skills.guards.workspace import (
    STATE_DIR,
    atomic_write,
    past_second,
    resolve_in_workspace,
    second_of,
    state_dir,
)

#: The most bytes kept of one file a run overwrites; a write over it is refused before any write.
MAX_PREIMAGE_FILE = 16 * 1024 * 1024
#: The most bytes kept for one run, all its files together.
MAX_PREIMAGES_PER_RUN = 128 * 1024 * 1024

#: The trailer of a revert commit, naming the run it undoes: how a later undo finds it.
TRAILER = "Phasegraph-Undo"


@dataclass
class UndoResult:
    """What an undo did: the files it put back and removed, and the revert commit."""

    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: The revert commit: made now, or (``commit_found``) made by an undo interrupted since.
    commit: str | None = None
    #: The revert commit had landed before an earlier undo was interrupted: not made again.
    commit_found: bool = False
    #: This call finished an undo that an earlier one began (and was interrupted in).
    resumed: bool = False
    #: Everything was already back as before the run (and the revert, if owed, committed):
    #: nothing was done.
    nothing_to_undo: bool = False


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
    start); files and folders the run created are removed; if the run committed, the revert
    is committed (once). Refuses when a file the run wrote holds neither what the run left
    nor its earlier bytes: a change made since (``force`` overrides).

    An undo journals how far it got (:class:`UndoJournal`), so one interrupted at any point
    is finished by the next call: a file already back as it was is not a change of the
    user's, and a revert commit that had landed is found, not made again. When everything
    is already back, nothing is done: the result says ``nothing_to_undo``.
    """
    workspace = Path(values["workspace"])
    head: str | None = values.get("head")
    written: list[str] = list(values.get("written", []))
    created = set(values.get("created", []))
    left: dict[str, str | None] = dict(values.get("written_sha", {}))
    if not written:
        raise UndoError("the run wrote no files: there is nothing to undo")
    run_id = str(values.get("run_id") or "")
    if run_id:  # a moment on the earlier tree a crash cut short: undo puts every file back
        shutil.rmtree(workspace / STATE_DIR / "pre-run" / run_id, ignore_errors=True)
    kept = Preimages(workspace, run_id)
    index = kept.index() if run_id else {"files": {}, "folders": []}
    before = {f: _original(workspace, head, f, f in created, kept, index) for f in written}
    paths = {f: resolve_in_workspace(workspace, f) for f in written}
    now = {f: _sha(paths[f].read_bytes() if paths[f].is_file() else None) for f in written}
    journal = UndoJournal(workspace, run_id or _legacy_key(values))
    entry = journal.load()
    # Begun and not finished: what it was told (--force) still holds for the same bytes.
    unfinished = entry.get("stage") in (RESTORING, COMMITTING)
    consented: dict[str, str | None] = dict(entry.get("discard", {})) if unfinished else {}
    # Only the files not back as they were: one an interrupted undo restored is done.
    pending = [f for f in written if now[f] != _sha(before[f])]
    moved = [
        f
        for f in pending
        if now[f] != left.get(f) and not (f in consented and consented[f] == now[f])
    ]
    if moved and not force:
        again = (
            " (an earlier undo of this run was interrupted; the files it had put back are "
            "fine, these are not)"
            if unfinished
            else ""
        )
        raise UndoError(
            f"{', '.join(moved)} changed after the run wrote it{again}; undo would throw "
            "those changes away. Save them elsewhere, or run undo with --force"
        )
    commit: str | None = values.get("commit_sha") or None
    key = journal.key
    revert = await asyncio.to_thread(_revert_state, workspace, commit, key) if commit else None
    found, owed = revert if revert is not None else (None, False)
    # All back, no undo left half done: done, unless the revert is owed and has content
    # (an undo from before journals, killed between its restores and its commit).
    settled = not pending and not unfinished
    if settled and not (owed and await asyncio.to_thread(_differs_from_head, workspace, written)):
        return UndoResult(commit=found, nothing_to_undo=True)
    result = UndoResult(resumed=unfinished)
    discard = {**consented, **{f: now[f] for f in moved}}
    journal.save({"stage": RESTORING, "commit": commit, "discard": discard})
    for rel in pending:
        path = paths[rel]
        data = before[rel]
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if not index["files"]:  # a run from before pre-images: its folders are not known
                _prune_empty_parents(path.parent, workspace)
            result.removed.append(rel)
        else:
            second = second_of(path)
            atomic_write(path, data)
            past_second(path, second)  # tools that trust mtimes see the change
            result.restored.append(rel)
        failpoint(f"undo-restored:{len(result.restored) + len(result.removed)}")
    for folder in sorted(index["folders"], key=lambda f: f.count("/"), reverse=True):
        with contextlib.suppress(OSError):  # not empty (someone's files), or gone already
            resolve_in_workspace(workspace, folder).rmdir()
    if commit and owed and await asyncio.to_thread(_differs_from_head, workspace, written):
        parent = await asyncio.to_thread(head_sha, workspace)
        journal.save({"stage": COMMITTING, "commit": commit, "discard": discard, "parent": parent})
        failpoint("undo-before-revert")
        result.commit = await _commit_revert(workspace, commit, key, written)
        failpoint("undo-revert-landed")
    elif found:
        result.commit, result.commit_found = found, True
    journal.save({"stage": DONE, "commit": commit, "revert": result.commit})
    return result


async def undo_by_run_id(workspace: Path, run_id: str, *, force: bool = False) -> UndoResult:
    """Undo the run ``run_id`` (the report's ``run_id``, or its thread) made in ``workspace``,
    from the record it left there (``.phasegraph/runs/``): a run of the library or the tool,
    with no checkpointer, as well as the CLI's. Holds the workspace lock
    (:class:`~phasegraph.WorkspaceBusy` while a run has it); otherwise as :func:`undo_run`.
    """
    given = Path(workspace).expanduser()
    # Paths and the record are files: a worker thread, never a blocking call on the loop.
    folder = await asyncio.to_thread(lambda: given.resolve() if given.is_dir() else None)
    if folder is None:
        raise UndoError(f"workspace {given} is not a directory; give the run's workspace")
    found = await asyncio.to_thread(find_run, folder, run_id)
    if found is None:
        raise UndoError(
            f"no run {run_id!r} is recorded in {folder / STATE_DIR / 'runs'}; give the run id "
            "its report names (run_id) and the workspace it ran in (`phasegraph runs -w DIR` "
            "lists them)"
        )
    async with hold_workspace(folder, f"undo {found['run_id']}"):
        return await undo_run(undo_values(found, folder), force=force)


async def _commit_revert(workspace: Path, commit: str, key: str, written: list[str]) -> str:
    """Commit the run's files as they are now (back as before the run): the revert of
    ``commit``, with a trailer naming the run so that an interrupted undo finds it."""
    shown = await asyncio.to_thread(run_git_sync, workspace, "log", "-1", "--format=%s", commit)
    message = f'Revert "{shown.stdout.strip()}"\n\nThis reverts {commit}.\n\n{TRAILER}: {key}'
    try:
        outcome = await GIT_CHECKPOINT.run(
            GIT_CHECKPOINT.parse_args({"message": message}),
            SkillContext(workspace=workspace, step_id="undo", run_files=tuple(written)),
        )
    except SkillError as exc:
        raise UndoError(
            f"every file is back as it was before the run, but the revert of {commit[:7]} "
            f"could not be committed: {exc.message}. Put that right, then run undo again to "
            "commit it"
        ) from None
    return str(outcome.data.get("sha"))


def _revert_state(workspace: Path, commit: str, key: str) -> tuple[str | None, bool]:
    """The revert commit an earlier undo made of ``commit`` (found by its trailer among the
    commits after it), and whether a revert is still owed: none found and ``commit`` is in
    HEAD's history (a run commit the user has reset away is not reverted)."""
    shown = run_git_sync(
        workspace,
        "log",
        "--fixed-strings",
        f"--grep={TRAILER}: {key}",
        "--format=%H %B%x00",
        f"{commit}..HEAD",
    )
    for entry in shown.stdout.split("\0"):
        sha, _, body = entry.strip().partition(" ")
        if sha and f"{TRAILER}: {key}" in body.splitlines():
            return sha, False
    inside = run_git_sync(workspace, "merge-base", "--is-ancestor", commit, "HEAD")
    return None, inside.returncode == 0


def _differs_from_head(workspace: Path, files: list[str]) -> bool:
    """Whether any of ``files`` differs from HEAD in the working tree (a revert has content)."""
    diff = run_git_sync(workspace, "diff", "--quiet", "HEAD", "--", *files)
    if diff.returncode == 1:
        return True
    if diff.returncode != 0:
        raise UndoError(f"git diff failed in {workspace}: {diff.stderr.strip()}")
    others = run_git_sync(
        workspace, "ls-files", "-z", "--others", "--exclude-standard", "--", *files
    )
    return bool(others.stdout.strip("\0"))


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _legacy_key(values: dict[str, Any]) -> str:
    """A journal's name for a run from before run ids: its commit, start and files."""
    facts = [values.get("commit_sha"), values.get("head"), sorted(values.get("written", []))]
    return "run-" + hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


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
