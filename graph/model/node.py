"""The shapes of the orchestrator's nodes, as LangGraph's ``add_node`` expects them."""

from __future__ import annotations

from typing import Any, Protocol

from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.state import State


class StateNode(Protocol):
    """A node that reads the whole state and returns a partial update."""

    async def __call__(self, state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]: ...
