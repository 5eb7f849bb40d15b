"""A persisted CLI run: checkpointer + store on the run's database, the workspace lock, events."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasegraph.cli.common import Env
from phasegraph.cli.progress import Progress
from phasegraph.graph.events import EventHandler
from phasegraph.graph.persistence import default_db

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from phasegraph.graph.builder import Orchestrator

EventSink = EventHandler


def database(db: str | None, workspace: Path) -> str:
    """The run database: ``--db`` if given, else SQLite under the workspace's ``.phasegraph/``."""
    return db or default_db(workspace)


@contextlib.asynccontextmanager
async def persisted_graph(
    env: Env, db: str, *, model: BaseChatModel | None = None, approve: bool = False
) -> AsyncIterator[Orchestrator]:
    """The orchestrator compiled with a durable checkpointer and store on ``db``."""
    # Imported here: `phasegraph skills` and `--help` need none of LangGraph's machinery.
    from phasegraph.graph.builder import build_orchestrator
    from phasegraph.graph.persistence import open_persistence

    async with open_persistence(db) as (saver, store):
        yield build_orchestrator(
            env.registry, checkpointer=saver, store=store, model=model, approve_writes=approve
        )


@contextlib.contextmanager
def event_sink(env: Env, json_lines: bool) -> Iterator[EventSink]:
    """Where step events go: a live table for people, or one JSON object a line for machines."""
    if json_lines:

        def emit(event: Mapping[str, Any]) -> None:
            sys.stdout.write(json.dumps(event, default=str) + "\n")
            sys.stdout.flush()

        yield emit
        return
    with Progress(env.out) as progress:
        yield progress.on_event
