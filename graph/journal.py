"""The write journal: what a write step found and left, so a resumed run applies it exactly once.

Before a write, the journal records each target's content hash; after it,
the hashes it left. A step that runs again after a crash compares the files
with both, and knows whether its write had already landed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from langgraph.store.base import BaseStore

from phasegraph.graph.artifacts import _LOCAL

Hashes = dict[str, str | None]


def file_hash(path: Path) -> str | None:
    """sha256 of the file's bytes, or ``None`` when there is no file."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def hashes(workspace: Path, files: list[str]) -> Hashes:
    return {rel: file_hash(workspace / rel) for rel in files}


class Journal:
    """Per-run journal entries in the run's store (process memory if it has none)."""

    def __init__(self, store: BaseStore | None, run_id: str) -> None:
        self.store = store
        self.namespace = ("phasegraph", "journal", run_id)

    async def get(self, key: str) -> dict[str, Any] | None:
        if self.store is None:
            return _LOCAL.get((".".join(self.namespace), key))
        item = await self.store.aget(self.namespace, key)
        return dict(item.value) if item is not None else None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if self.store is None:
            _LOCAL[(".".join(self.namespace), key)] = value
            return
        await self.store.aput(self.namespace, key, value, index=False)


def landed(entry: dict[str, Any], now: Hashes) -> Literal["landed", "not-landed", "changed"]:
    """Did the journaled write land? ``changed``: the files match neither before nor after."""
    after = entry.get("after")
    if after is not None and now == after:
        return "landed"
    if now == entry["before"]:
        return "not-landed"
    # The rename happened but the process died before it could record "after".
    return "landed" if after is None else "changed"
