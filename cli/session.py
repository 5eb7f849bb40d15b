"""A persisted CLI run: checkpointer + store on the run's database, the workspace lock, events."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasegraph.cli.common import Env
from phasegraph.cli.interrupt import shown_db
from phasegraph.cli.output import print_line
from phasegraph.cli.progress import Progress
from phasegraph.graph.durable.persistence import default_db, is_postgres
from phasegraph.graph.model.events import EventHandler
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.guards.workspace import STATE_DIR

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore

    from phasegraph.graph.builder import Orchestrator

EventSink = EventHandler


def database(db: str | None, workspace: Path) -> str:
    """The run database: ``--db`` if given, else SQLite under the workspace's ``.phasegraph/``."""
    return db or default_db(workspace)


def existing_workspace(workspace: Path) -> Path:
    """``-w`` of a command that reads a run back: it must be a folder."""
    if not workspace.is_dir():
        raise PreflightError(
            f"workspace {workspace} is not a directory; give the run's workspace with -w "
            "(default: the current folder)"
        )
    return workspace.resolve()


def existing_database(db: str | None, workspace: Path) -> str | None:
    """The database a command reads runs from, creating nothing: ``None`` when the workspace
    has no default database yet; a ``--db`` SQLite file that does not exist is refused."""
    if db is not None:
        if not is_postgres(db) and not Path(db).is_file():
            raise PreflightError(
                f"no checkpoint database at {db}; give --db the database the run was given"
            )
        return db
    if not (workspace / STATE_DIR).is_dir():
        return None
    found = default_db(workspace)
    return found if Path(found).is_file() else None


@contextlib.asynccontextmanager
async def opened(db: str) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], BaseStore]]:
    """``open_persistence(db)``, with a database that cannot be opened as a clear error."""
    from phasegraph.graph.durable.persistence import open_persistence

    async with contextlib.AsyncExitStack() as stack:
        try:
            saver, store = await stack.enter_async_context(open_persistence(db))
        except sqlite3.DatabaseError as exc:
            raise PreflightError(_sqlite_problem(db, exc)) from None
        except Exception as exc:
            if not is_postgres(db) or type(exc).__module__.split(".")[0] != "psycopg":
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PreflightError(
                f"cannot reach the database {shown_db(db)}: {first}; check --db and that "
                "the PostgreSQL server is running"
            ) from None
        yield saver, store


def _sqlite_problem(db: str, exc: sqlite3.DatabaseError) -> str:
    if isinstance(exc, sqlite3.OperationalError):
        return f"cannot open the database {db}: {exc}; check --db (its folder must exist)"
    return (
        f"{db} is not a SQLite checkpoint database ({exc}); give --db a phasegraph database "
        "or a new file name"
    )


@contextlib.asynccontextmanager
async def persisted_graph(
    env: Env, db: str, *, model: BaseChatModel | None = None, approve: bool = False
) -> AsyncIterator[Orchestrator]:
    """The orchestrator compiled with a durable checkpointer and store on ``db``."""
    # Imported here: `phasegraph skills` and `--help` need none of LangGraph's machinery.
    from phasegraph.graph.builder import build_orchestrator

    async with opened(db) as (saver, store):
        yield build_orchestrator(
            env.registry, checkpointer=saver, store=store, model=model, approve_writes=approve
        )


@contextlib.contextmanager
def event_sink(env: Env, json_lines: bool) -> Iterator[EventSink]:
    """Where step events go: a live table for people, or one JSON object a line for machines."""
    if json_lines:

        def emit(event: Mapping[str, Any]) -> None:
            print_line(json.dumps(event, default=str))

        yield emit
        return
    with Progress(env.out) as progress:
        yield progress.on_event
