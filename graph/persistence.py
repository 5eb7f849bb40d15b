"""The checkpointer factory: SQLite in the workspace by default, PostgreSQL on request."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasegraph.skills.workspace import state_dir

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
    if is_postgres(db):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from langgraph.store.postgres.aio import AsyncPostgresStore

        async with (
            AsyncPostgresSaver.from_conn_string(db) as saver,
            AsyncPostgresStore.from_conn_string(db) as pg_store,
        ):
            await saver.setup()
            await pg_store.setup()
            yield saver, pg_store
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    async with (
        AsyncSqliteSaver.from_conn_string(db) as sqlite_saver,
        AsyncSqliteStore.from_conn_string(db) as sqlite_store,
    ):
        await sqlite_saver.setup()
        await sqlite_store.setup()
        yield sqlite_saver, sqlite_store
