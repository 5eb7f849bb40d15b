"""The workspace's bounds: every path a skill touches resolves inside the workspace root and
outside its protected folders (``.git``, phasegraph's own state folder, which this module
makes and keeps owner-only). Also phasegraph's plain atomic writes and TOML reads; the
confined reads and writes of workspace files are in
:mod:`~phasegraph.skills.guards.confined_io`."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.core.errors import WorkspaceViolation

#: phasegraph's own folder in a workspace: run state, locks, tool caches.
STATE_DIR = ".phasegraph"
#: Entries of a workspace that a run never reads or writes through a skill, at any depth.
PROTECTED = (".git", STATE_DIR)

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


#: The modes of everything in :data:`STATE_DIR`, owner-only: it holds reads of the workspace's
#: files verbatim (a ``.env`` included) in the run database and the pre-images.
PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600


def state_dir(workspace: Path, *sub: str) -> Path:
    """phasegraph's own folder in the workspace (or a folder in it), made on first use.

    It ignores itself in git (a ``.gitignore`` of ``*``), so runs never commit it. Every
    folder on the way is owner-only (0700), made so or tightened (one an earlier version made).
    """
    path = workspace / STATE_DIR
    _private_folder(path)
    ignore = path / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, b"# phasegraph's run state: never committed\n*\n", mode=PRIVATE_FILE)
    for part in PurePosixPath(*sub).parts if sub else ():
        path = path / part
        _private_folder(path)
    return path


def _private_folder(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_FOLDER)
    found = path.lstat()  # a symlink's target is not phasegraph's to change
    if stat.S_ISDIR(found.st_mode) and found.st_mode & 0o777 != PRIVATE_FOLDER:
        path.chmod(PRIVATE_FOLDER)


def seal_state_dir(workspace: Path) -> None:
    """Make everything in the workspace's :data:`STATE_DIR` owner-only: folders 0700, files
    0600. The tools a check runs (ruff's and mypy's caches there) create their files with the
    process's umask, and earlier versions left theirs readable; the folder itself, 0700 from
    the start, keeps other users out meanwhile. Symlinks are never followed (nor changed);
    what cannot be changed (gone meanwhile, another owner's) is left as it is."""
    top = workspace / STATE_DIR
    if not top.is_dir():
        return
    for _, _, files, folder in os.fwalk(top, follow_symlinks=False):
        with contextlib.suppress(OSError):
            if os.fstat(folder).st_mode & 0o777 != PRIVATE_FOLDER:
                os.fchmod(folder, PRIVATE_FOLDER)
        for name in files:
            with contextlib.suppress(OSError):
                _private_file(name, folder)


def _private_file(name: str, folder: int) -> None:
    found = os.lstat(name, dir_fd=folder)
    if not stat.S_ISREG(found.st_mode) or found.st_mode & 0o777 == PRIVATE_FILE:
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
    fd = os.open(name, flags, dir_fd=folder)  # the file itself, never a link swapped in
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def protected_name(part: str) -> str | None:
    """The protected name ``part`` stands for (case-insensitive: ``.GIT`` is ``.git`` on macOS)."""
    folded = part.casefold()
    return next((name for name in PROTECTED if folded == name), None)


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
    for part in pure.parts:
        name = protected_name(part)
        if name:
            return f"{rel!r} is inside {name}/, which a run never touches"
    return None


def resolve_in_workspace(
    workspace: Path, rel: str, *, step_id: str | None = None, must_exist: bool = False
) -> Path:
    """Resolve ``rel`` against ``workspace`` following symlinks; refuse any escape.

    Raises :class:`WorkspaceViolation` naming the path and the fix. The answer
    is only as good as the moment it was given: writes and reads then go through
    :func:`~phasegraph.skills.guards.confined_io.write_confined` and
    :func:`~phasegraph.skills.guards.confined_io.open_confined`, which refuse a symlink
    swapped in after this check.
    """
    problem = static_path_problem(rel)
    if problem:
        raise WorkspaceViolation(problem, step_id=step_id)
    root = workspace.resolve()
    try:
        target = (root / rel.replace("\\", "/")).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise WorkspaceViolation(f"{rel!r} cannot be resolved ({exc})", step_id=step_id) from exc
    if target != root and root not in target.parents:
        raise WorkspaceViolation(
            f"{rel!r} resolves to {target}, outside the workspace {root} "
            "(a symlink points out); use a path inside the workspace",
            step_id=step_id,
        )
    for part in target.relative_to(root).parts:
        name = protected_name(part)
        if name:
            raise WorkspaceViolation(
                f"{rel!r} resolves into {name}/, which a run never touches", step_id=step_id
            )
    if must_exist and not target.exists():
        raise WorkspaceViolation(
            f"{rel!r} does not exist in the workspace {root}; check the path", step_id=step_id
        )
    return target


def workspace_relative(workspace: Path, path: Path) -> str:
    """``path`` as a POSIX path relative to the (resolved) workspace root."""
    return path.resolve().relative_to(workspace.resolve()).as_posix()


def relative_name(workspace: Path, target: Path) -> str:
    """``target`` (from :func:`resolve_in_workspace`) relative to the root, not resolved again.

    Resolving again could follow a symlink swapped in since the check; the name
    the check gave is the one to report.
    """
    return target.relative_to(workspace.resolve()).as_posix()


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see old or new, never half.

    The temporary file lives beside the target (same filesystem) and is removed
    if anything fails, so no partial file is ever left behind. ``mode`` defaults
    to the existing file's permission bits. Skills write through
    :func:`~phasegraph.skills.guards.confined_io.write_confined` instead, which also refuses
    symlinks swapped in.
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


#: The largest configuration file phasegraph reads (a pyproject.toml is a few kB).
MAX_CONFIG_BYTES = 1_000_000


def read_toml(path: Path) -> dict[str, Any]:
    """The tables of the TOML file ``path``; ``{}`` when it is absent, a symbolic link,
    larger than :data:`MAX_CONFIG_BYTES` or unreadable (a configuration a tool could not
    read either says nothing)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return {}
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def second_of(path: Path) -> int | None:
    """``path``'s modification time in whole seconds (``None``: no file there)."""
    try:
        return int(path.lstat().st_mtime)
    except OSError:
        return None


def past_second(path: Path, before: int | None) -> None:
    """Give ``path``, just rewritten, a modification time past the whole second it had before
    (``before``, from :func:`second_of`; a file that was not there: past the current one)
    when the change left it within that second.

    Tools trust a file whose size and whole-second mtime are unchanged to be unchanged, and go
    on using what they found in its old content: mypy's cache does, so a same-size edit made
    within the second of the baseline's check was checked as the old text, a false green.
    """
    with contextlib.suppress(OSError):
        st = path.lstat()
        floor = int(st.st_mtime) if before is None else before
        if stat.S_ISREG(st.st_mode) and int(st.st_mtime) <= floor:
            os.utime(path, ns=(st.st_atime_ns, (floor + 1) * 10**9), follow_symlinks=False)
