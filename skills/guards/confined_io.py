"""Confined file access: reads and writes of workspace files that never follow a symlink out.

A path checked by :func:`~phasegraph.skills.guards.workspace.resolve_in_workspace` is only
as good as the moment of the check. These open every folder on the way, and the file itself,
without following symlinks, so a link swapped in after the check is refused (or, for a write,
replaced), never followed out of the workspace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.guards.workspace import protected_name

# Errors an O_NOFOLLOW open gives when the name is a symlink (ELOOP on Linux and macOS,
# EMLINK on FreeBSD) or, with O_DIRECTORY, when it is not a folder.
_NOT_A_REAL_FOLDER = (errno.ELOOP, errno.EMLINK, errno.ENOTDIR)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _inside_parts(workspace: Path, target: Path, step_id: str | None) -> tuple[Path, list[str]]:
    """The resolved root and the names leading from it to ``target``, each checked again."""
    root = workspace.resolve()
    try:
        parts = list(target.relative_to(root).parts)
    except ValueError as exc:
        raise WorkspaceViolation(
            f"{target} is outside the workspace {root}", step_id=step_id
        ) from exc
    for part in parts:
        if part in ("", ".", "..") or protected_name(part):
            raise WorkspaceViolation(
                f"{target} goes through {part!r}, which a run never touches", step_id=step_id
            )
    return root, parts


@contextlib.contextmanager
def _folder_fd(
    root: Path, folders: list[str], *, rel: str, create: bool, step_id: str | None
) -> Iterator[int]:
    """An open descriptor of ``root/folders...``, reached one real folder at a time.

    Each name is opened relative to the folder before it with ``O_NOFOLLOW``, so a
    symlink put in place of any folder (even after the path was checked) is refused,
    never followed out of the workspace. With ``create``, missing folders are made.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        for name in folders:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
            try:
                try:
                    child = os.open(name, flags, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, 0o777, dir_fd=fd)
                    child = os.open(name, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in _NOT_A_REAL_FOLDER:
                    raise
                found = _lstat(name, fd)
                kind = stat.S_IFMT(found.st_mode) if found is not None else stat.S_IFLNK
                if kind not in (stat.S_IFLNK, stat.S_IFDIR):
                    raise NotADirectoryError(
                        exc.errno,
                        f"a file is in the way: {name!r} on the way to {rel!r} is not a folder",
                    ) from exc
                # A symlink, or a folder again by now: it changed under us either way.
                raise WorkspaceViolation(
                    f"{name!r} on the way to {rel!r} is a symlink (swapped in after the path "
                    "was checked?); refusing to go through it",
                    step_id=step_id,
                ) from exc
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def open_confined(workspace: Path, target: Path, *, rel: str, step_id: str | None = None) -> int:
    """Open ``target``, a path from
    :func:`~phasegraph.skills.guards.workspace.resolve_in_workspace`, for reading, confined.

    Every folder on the way and the file itself are opened without following
    symlinks, so a link swapped in after the check cannot lead outside. Raises
    :class:`FileNotFoundError` when it is missing, :class:`SkillError` when it is
    not a regular file. The caller closes the descriptor.
    """
    try:
        return _open_confined(workspace, target, rel, step_id)
    except (SkillError, FileNotFoundError):
        raise
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise SkillError(f"cannot read {rel!r}: {detail}", step_id=step_id) from exc


def _open_confined(workspace: Path, target: Path, rel: str, step_id: str | None) -> int:
    root, parts = _inside_parts(workspace, target, step_id)
    if not parts:
        raise SkillError(f"{rel!r} is not a regular file (a directory?)", step_id=step_id)
    with _folder_fd(root, parts[:-1], rel=rel, create=False, step_id=step_id) as folder:
        # O_NONBLOCK: a FIFO swapped in must not hang the read; fstat below refuses it.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
        try:
            fd = os.open(parts[-1], flags, dir_fd=folder)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise WorkspaceViolation(
                    f"{rel!r} became a symlink after the path was checked; refusing to follow it",
                    step_id=step_id,
                ) from exc
            if exc.errno in (errno.EISDIR, errno.ENXIO):
                raise SkillError(
                    f"{rel!r} is not a regular file (a directory?)", step_id=step_id
                ) from exc
            raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SkillError(f"{rel!r} is not a regular file (a directory?)", step_id=step_id)
    return fd


def read_confined(
    workspace: Path, target: Path, *, rel: str, max_bytes: int, step_id: str | None = None
) -> bytes:
    """Up to ``max_bytes + 1`` bytes of ``target``, read through :func:`open_confined`."""
    fd = open_confined(workspace, target, rel=rel, step_id=step_id)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(max_bytes + 1)


def write_confined(
    workspace: Path,
    target: Path,
    data: bytes,
    *,
    rel: str,
    mode: int | None = None,
    create_dirs: bool = False,
    step_id: str | None = None,
) -> None:
    """Replace ``target``, a path from
    :func:`~phasegraph.skills.guards.workspace.resolve_in_workspace`, with ``data``, confined.

    The folder is reached one real folder at a time from the workspace root
    (``O_NOFOLLOW``), the temporary file is created in it exclusively, and the
    rename happens inside that same open folder: a symlink swapped in for any
    folder or for the file after the check is refused or replaced, never
    followed, so nothing outside the workspace can change. Readers see the old
    or the new content, never half. ``mode`` defaults to the existing file's
    permission bits (or 0600 for a new file).
    """
    try:
        _write_confined(workspace, target, data, rel, mode, create_dirs, step_id)
    except SkillError:
        raise
    except FileNotFoundError as exc:
        raise SkillError(
            f"the folder of {rel!r} does not exist (create_dirs is off, or it was removed "
            "while writing)",
            step_id=step_id,
        ) from exc
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise SkillError(f"cannot write {rel!r}: {detail}", step_id=step_id) from exc


def _write_confined(
    workspace: Path,
    target: Path,
    data: bytes,
    rel: str,
    mode: int | None,
    create_dirs: bool,
    step_id: str | None,
) -> None:
    root, parts = _inside_parts(workspace, target, step_id)
    if not parts:
        raise SkillError(f"{rel!r} is a directory; give the path of a file", step_id=step_id)
    name = parts[-1]
    with _folder_fd(root, parts[:-1], rel=rel, create=create_dirs, step_id=step_id) as folder:
        existing = _lstat(name, folder)
        _check_replaceable(existing, rel, step_id)
        if mode is None and existing is not None:
            mode = existing.st_mode & 0o7777
        tmp = f".{name[:100]}.{secrets.token_hex(6)}.phasegraph-tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            # Checked again right before the rename: the window left is the rename itself,
            # and rename() replaces a symlink it finds rather than following it.
            _check_replaceable(_lstat(name, folder), rel, step_id)
            os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=folder)
            raise


def _lstat(name: str, folder: int) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=folder)
    except FileNotFoundError:
        return None


def _check_replaceable(found: os.stat_result | None, rel: str, step_id: str | None) -> None:
    if found is None or stat.S_ISREG(found.st_mode):
        return
    if stat.S_ISLNK(found.st_mode):
        raise WorkspaceViolation(
            f"{rel!r} became a symlink after the path was checked; refusing to write through it",
            step_id=step_id,
        )
    if stat.S_ISDIR(found.st_mode):
        raise SkillError(f"{rel!r} is a directory; give the path of a file", step_id=step_id)
    raise SkillError(
        f"{rel!r} is not a regular file (a FIFO, socket or device); it cannot be written",
        step_id=step_id,
    )
