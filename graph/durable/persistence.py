"""The checkpointer factory: SQLite in the workspace by default, PostgreSQL on request."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasegraph.skills.guards.workspace import PRIVATE_FILE, STATE_DIR, state_dir

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore


def default_db(workspace: Path) -> str:
    return str(state_dir(workspace) / "state.sqlite")


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


@contextlib.asynccontextmanager
async def open_persistence(
    db: str,
) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], BaseStore]]:
    """A checkpointer and a store (for step outputs and the write journal) on ``db``.

    ``db`` is a SQLite file path or a ``postgresql://`` URL. Both are set up
    (tables created) before they are handed out.
    """
    saver: contextlib.AbstractAsyncContextManager[Any]
    store: contextlib.AbstractAsyncContextManager[Any]
    if is_postgres(db):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from langgraph.store.postgres.aio import AsyncPostgresStore

        saver = AsyncPostgresSaver.from_conn_string(db)
        store = AsyncPostgresStore.from_conn_string(db)
    else:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
        from langgraph.store.sqlite.aio import AsyncSqliteStore

        private_sqlite(db)
        saver = AsyncSqliteSaver.from_conn_string(db)
        store = AsyncSqliteStore.from_conn_string(db)
    async with saver as opened_saver, store as opened_store:
        await opened_saver.setup()
        await opened_store.setup()
        yield opened_saver, opened_store


#: The files SQLite keeps beside a database (write-ahead log, shared memory, rollback journal).
SQLITE_SIDES = ("-wal", "-shm", "-journal")


def private_sqlite(db: str) -> None:
    """Make the SQLite database ``db`` owner-only (0600) before SQLite opens it.

    Its checkpoints and store hold step outputs verbatim (a read of ``.env`` included).
    SQLite would create the file with the umask's mode (0644) and gives its ``-wal`` and
    ``-shm`` files the database file's mode, so the file is created here first, owner-only.
    A database of a workspace's ``.phasegraph/`` that an earlier version left readable is
    tightened, with its side files; a ``--db`` file of the user's elsewhere keeps its mode.
    A path that cannot be created is left for SQLite to report.
    """
    if db == ":memory:" or db.startswith("file:"):
        return
    path = Path(db)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        os.close(os.open(path, flags, PRIVATE_FILE))
    except FileExistsError:
        if path.parent.name != STATE_DIR:
            return
        for file in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDES)):
            with contextlib.suppress(FileNotFoundError):
                found = file.lstat()  # a symlink's target is not phasegraph's to change
                if stat.S_ISREG(found.st_mode) and found.st_mode & 0o777 != PRIVATE_FILE:
                    file.chmod(PRIVATE_FILE)
    except OSError:
        return
