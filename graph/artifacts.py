"""Large step outputs, stored once outside the graph state and fetched by step id."""

from __future__ import annotations

from typing import Any

from langgraph.store.base import BaseStore

_LOCAL: dict[tuple[str, str], dict[str, Any]] = {}


def _namespace(run_id: str) -> tuple[str, ...]:
    return ("phasegraph", "outputs", run_id)


async def put_output(
    store: BaseStore | None, run_id: str, step_id: str, data: dict[str, Any]
) -> None:
    """Keep ``data`` for ``step_id`` in the run's store (process memory if there is none)."""
    if store is None:
        _LOCAL[(run_id, step_id)] = data
        return
    await store.aput(_namespace(run_id), step_id, data, index=False)


async def get_output(store: BaseStore | None, run_id: str, step_id: str) -> dict[str, Any] | None:
    if store is None:
        return _LOCAL.get((run_id, step_id))
    item = await store.aget(_namespace(run_id), step_id)
    return dict(item.value) if item is not None else None
