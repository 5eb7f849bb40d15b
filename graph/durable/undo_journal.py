"""An undo's own journal: how far the undo of one run got, so that the next one finishes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phasegraph.skills.guards.workspace import STATE_DIR, atomic_write, state_dir

#: An undo's stages, as its journal records them.
RESTORING, COMMITTING, DONE = "restoring", "committing", "done"


class UndoJournal:
    """How far an undo of one run got, so that the next undo finishes one interrupted at any
    point (SIGKILL, a power cut) instead of taking its work for the user's.

    One small file, ``undo.json`` beside the run's pre-images, replaced atomically and
    readable by its owner only. ``stage``: ``restoring`` (written before the first file goes
    back), ``committing`` (every file back; the revert about to be committed on ``parent``),
    ``done`` (``revert``: the revert commit, if the run had committed). ``discard``: the
    files an undo with ``--force`` was told to overwrite, each with the sha256 it held then
    (``None``: no file), so finishing that undo asks no second ``--force`` for those bytes.
    """

    NAME = "undo.json"

    def __init__(self, workspace: Path, key: str) -> None:
        self.workspace = workspace
        self.key = key
        self.path = workspace / STATE_DIR / "undo" / key / self.NAME

    def load(self) -> dict[str, Any]:
        """The last entry (``{}``: no undo of this run began, or its journal is unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, entry: dict[str, Any]) -> None:
        state_dir(self.workspace, "undo", self.key)  # made with the .gitignore that hides it
        data = json.dumps({"version": 1, "run": self.key, **entry}).encode()
        atomic_write(self.path, data, mode=0o600)
