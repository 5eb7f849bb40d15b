"""The tree as it was before a run's writes, put back for a moment and journaled.

A check whose baseline is taken after the writes (``RunOptions.baseline="auto"``, see
:mod:`phasegraph.nodes.baseline_after`) runs again, on the tree as it was before them, only
what did not pass after them. For that moment the files the run wrote hold their pre-images
(:class:`phasegraph.graph.durable.undo.Preimages`) and the run's own bytes wait in
``.phasegraph/pre-run/<run>/``; the journal there is written before the first file is put back
and removed only once every file holds the run's bytes again. A run that dies in between leaves
the journal, and :func:`put_back` (called by the verify node before it runs anything) puts the
run's bytes back: each file must hold either its pre-image or the run's bytes, and anything
else (someone else's change meanwhile) is refused, never overwritten. An undo drops the
journal: it puts every file back as it was before the run anyway.

Blocking (files): callers run it in a worker thread, under the workspace lock.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.durable.undo import Preimages
from phasegraph.skills.core.errors import UndoError
from phasegraph.skills.guards.workspace import (
    PRIVATE_FILE,
    STATE_DIR,
    atomic_write,
    past_second,
    resolve_in_workspace,
    second_of,
    state_dir,
)

_JOURNAL = "journal.json"


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _folder(workspace: Path, run_id: str) -> Path:
    return workspace / STATE_DIR / "pre-run" / run_id


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _place(path: Path, data: bytes | None, mode: int | None = None) -> None:
    """``path`` holding ``data`` (``None``: no file), in one rename."""
    if data is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    second = second_of(path)
    atomic_write(path, data, mode=mode)
    past_second(path, second)  # tools that trust mtimes see the change


def put_before(workspace: Path, run_id: str, written: list[str]) -> None:
    """Each of ``written`` holding what it held before the run, the run's bytes kept and
    journaled first; :func:`put_back` (call it however the moment ends) undoes this. Raises
    :class:`UndoError` when a file's earlier bytes were not kept, before changing any."""
    preimages = Preimages(workspace, run_id)
    try:
        before = {rel: preimages.original(rel) for rel in written}  # every one known, or raise
    except KeyError as exc:  # a write whose files were not known before it ran
        raise UndoError(
            f"the run wrote {exc.args[0]} without keeping its earlier bytes first, so the "
            "tree as it was before the run cannot be put back for its baseline; run the plan "
            "with the option baseline='before' (--baseline before)"
        ) from exc
    folder = state_dir(workspace, "pre-run", run_id)
    entries: dict[str, dict[str, object]] = {}
    for rel in written:
        path = resolve_in_workspace(workspace, rel)
        now = _read(path)
        sha = _sha(now)
        if now is not None and sha is not None:
            atomic_write(folder / sha, now, mode=PRIVATE_FILE)
        entries[rel] = {
            "after": sha,
            "before": _sha(before[rel]),
            "mode": path.stat().st_mode & 0o7777 if now is not None else None,
        }
    atomic_write(folder / _JOURNAL, json.dumps({"files": entries}).encode(), mode=PRIVATE_FILE)
    for index, rel in enumerate(written):
        _place(resolve_in_workspace(workspace, rel), before[rel])
        failpoint(f"pre-run-restored:{index + 1}")


def put_back(workspace: Path, run_id: str) -> list[str]:
    """The run's bytes back in every file a pre-run moment left holding its pre-image (a run
    that died between :func:`put_before` and this); the files put back. Nothing to do without a
    journal. Raises :class:`UndoError`, changing nothing, when a file holds neither."""
    folder = _folder(workspace, run_id)
    try:
        journal = json.loads((folder / _JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    entries: dict[str, dict[str, object]] = journal["files"]
    plan: list[tuple[Path, bytes | None, int | None]] = []
    for rel, entry in entries.items():
        path = resolve_in_workspace(workspace, rel)
        now = _sha(_read(path))
        if now == entry["after"]:
            continue
        if now != entry["before"]:
            raise UndoError(
                f"{rel} changed while phasegraph had put its earlier bytes back for a moment "
                f"(run {run_id}); the run's bytes are kept in {folder}: restore them by hand "
                "or undo the run"
            )
        after = entry["after"]
        data = (folder / str(after)).read_bytes() if after is not None else None
        if _sha(data) != after:
            raise UndoError(f"the run's bytes of {rel} kept in {folder} are missing or damaged")
        mode = entry.get("mode")
        plan.append((path, data, mode if isinstance(mode, int) else None))
    for path, data, mode in plan:
        _place(path, data, mode)
    shutil.rmtree(folder, ignore_errors=True)
    return [path.relative_to(workspace).as_posix() for path, _, _ in plan]
