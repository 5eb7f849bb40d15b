"""Path confinement: every file a skill touches resolves inside the workspace root."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path, PurePosixPath

from phasegraph.skills.errors import WorkspaceViolation

#: Top-level entries of a workspace that a run never reads or writes through a skill.
PROTECTED = (".git", ".phasegraph")


def static_path_problem(rel: str) -> str | None:
    """Why ``rel`` can never be a workspace path, judged without touching disk.

    Returns ``None`` when the path is acceptable on its face.
    """
    if not rel:
        return "the path is empty"
    if "\x00" in rel:
        return "the path contains a NUL byte"
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or (len(rel) > 1 and rel[1] == ":"):
        return f"{rel!r} is absolute; give a path relative to the workspace"
    depth = 0
    for part in pure.parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"{rel!r} climbs out of the workspace with '..'"
        elif part != ".":
            depth += 1
    parts = [p for p in pure.parts if p not in (".",)]
    if parts and parts[0] in PROTECTED:
        return f"{rel!r} is inside {parts[0]}/, which a run never touches"
    return None


def resolve_in_workspace(
    workspace: Path, rel: str, *, step_id: str | None = None, must_exist: bool = False
) -> Path:
    """Resolve ``rel`` against ``workspace`` following symlinks; refuse any escape.

    Raises :class:`WorkspaceViolation` naming the path and the fix.
    """
    problem = static_path_problem(rel)
    if problem:
        raise WorkspaceViolation(problem, step_id=step_id)
    root = workspace.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise WorkspaceViolation(
            f"{rel!r} resolves to {target}, outside the workspace {root} "
            "(a symlink points out); use a path inside the workspace",
            step_id=step_id,
        )
    inside = target.relative_to(root).parts
    if inside and inside[0] in PROTECTED:
        raise WorkspaceViolation(
            f"{rel!r} resolves into {inside[0]}/, which a run never touches", step_id=step_id
        )
    if must_exist and not target.exists():
        raise WorkspaceViolation(
            f"{rel!r} does not exist in the workspace {root}; check the path", step_id=step_id
        )
    return target


def workspace_relative(workspace: Path, path: Path) -> str:
    """``path`` as a POSIX path relative to the (resolved) workspace root."""
    return path.resolve().relative_to(workspace.resolve()).as_posix()


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see old or new, never half.

    The temporary file lives beside the target (same filesystem) and is removed
    if anything fails, so no partial file is ever left behind. ``mode`` defaults
    to the existing file's permission bits.
    """
    if mode is None and path.exists():
        mode = path.stat().st_mode & 0o7777
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".phasegraph-tmp", dir=path.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
