"""Path confinement: every file a skill touches resolves inside the workspace root."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.core.errors import SkillError, WorkspaceViolation

#: phasegraph's own folder in a workspace: run state, locks, tool caches.
STATE_DIR = ".phasegraph"
#: Entries of a workspace that a run never reads or writes through a skill, at any depth.
PROTECTED = (".git", STATE_DIR)

# Errors an O_NOFOLLOW open gives when the name is a symlink (ELOOP on Linux and macOS,
# EMLINK on FreeBSD) or, with O_DIRECTORY, when it is not a folder.
_NOT_A_REAL_FOLDER = (errno.ELOOP, errno.EMLINK, errno.ENOTDIR)
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


def _protected(part: str) -> str | None:
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
        name = _protected(part)
        if name:
            return f"{rel!r} is inside {name}/, which a run never touches"
    return None


def resolve_in_workspace(
    workspace: Path, rel: str, *, step_id: str | None = None, must_exist: bool = False
) -> Path:
    """Resolve ``rel`` against ``workspace`` following symlinks; refuse any escape.

    Raises :class:`WorkspaceViolation` naming the path and the fix. The answer
    is only as good as the moment it was given: writes and reads then go through
    :func:`write_confined` and :func:`open_confined`, which refuse a symlink
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
        name = _protected(part)
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
        if part in ("", ".", "..") or _protected(part):
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
    """Open ``target`` (a path from :func:`resolve_in_workspace`) for reading, confined.

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
    """Replace ``target`` (a path from :func:`resolve_in_workspace`) with ``data``, confined.

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


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see old or new, never half.

    The temporary file lives beside the target (same filesystem) and is removed
    if anything fails, so no partial file is ever left behind. ``mode`` defaults
    to the existing file's permission bits. Skills write through
    :func:`write_confined` instead, which also refuses symlinks swapped in.
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
