"""The change a run tried, as a unified diff of the files it wrote against their pre-images.

The report carries it whether the run committed, stopped with its writes kept, or stopped
and put the tree back: an agent (or a person) reads what was tried without the tree. It is
clipped to :data:`MAX_DIFF_CHARS`, with a note that says so.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from phasegraph.graph.durable.undo import Preimages
from phasegraph.skills.core.errors import UndoError
from phasegraph.skills.guards.workspace import resolve_in_workspace

#: The most characters of diff a report carries.
MAX_DIFF_CHARS = 20_000
#: A side bigger than this is not diffed line by line (it would cost more than it tells).
MAX_DIFFED_BYTES = 1_000_000


def tried_diff(
    workspace: Path, run_id: str, written: list[str], *, limit: int = MAX_DIFF_CHARS
) -> str:
    """The unified diff of each of ``written`` (as it is now) against the bytes it held
    before the run (``/dev/null``: it did not exist, or no longer does). Blocking (files)."""
    kept = Preimages(workspace, run_id)
    try:
        index = kept.index()["files"]
    except (OSError, ValueError) as exc:  # a damaged index: the report still goes out
        return f"# no diff: the run's pre-images in {kept.folder} cannot be read ({exc})\n"
    parts: list[str] = []
    for rel in written:
        if rel not in index:
            parts.append(f"# {rel}: its earlier bytes were not kept; no diff\n")
            continue
        try:
            before = kept.original(rel)
            path = resolve_in_workspace(workspace, rel)
            after = path.read_bytes() if path.is_file() else None
        except (OSError, UndoError) as exc:
            parts.append(f"# {rel}: no diff ({exc})\n")
            continue
        parts.append(_file_diff(rel, before, after))
    return clip("".join(parts), limit)


def clip(diff: str, limit: int = MAX_DIFF_CHARS) -> str:
    """``diff`` cut at a line end within ``limit`` characters, with a note of what was left out."""
    if len(diff) <= limit:
        return diff
    cut = diff.rfind("\n", 0, limit) + 1 or limit
    return (
        f"{diff[:cut]}# diff clipped: {len(diff) - cut} of {len(diff)} characters left out; "
        "the written files hold the rest (git diff, or the report's written list)\n"
    )


def _file_diff(rel: str, before: bytes | None, after: bytes | None) -> str:
    if before == after:
        return ""
    sizes = [len(data) for data in (before, after) if data is not None]
    if max(sizes) > MAX_DIFFED_BYTES:
        return f"# {rel}: {' -> '.join(map(str, sizes))} bytes, too large to show\n"
    old, new = _text(before), _text(after)
    if old is None or new is None:
        return f"Binary files a/{rel} and b/{rel} differ\n"
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{rel}",
        tofile="/dev/null" if after is None else f"b/{rel}",
    )
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in diff
    )


def _text(data: bytes | None) -> str | None:
    """``data`` as text (``""`` for no file); ``None`` when it is binary."""
    if data is None:
        return ""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
