"""The orchestrator as LangGraph's server serves it (``langgraph.json`` points here)."""

from __future__ import annotations

from phasegraph.graph.builder import Orchestrator, build_orchestrator


def build_served_graph(*, approve_writes: bool = False, name: str = "phasegraph") -> Orchestrator:
    """The default orchestrator without persistence of its own.

    The server brings its own checkpointer and store (in memory for
    ``langgraph dev``, PostgreSQL when deployed) and refuses a graph that
    compiles in either, so neither is kept here. A run gives the workspace and
    the plan (or a request) as its input and :class:`RunOptions` as its
    ``context``. With ``approve_writes`` the run pauses before its first write
    until it is resumed with ``Command(resume={"approve": True})``.
    """
    return build_orchestrator(approve_writes=approve_writes, name=name, served=True)


#: Served as ``phasegraph``: runs straight through (pause it with ``interrupt_before``).
graph = build_served_graph()
#: Served as ``phasegraph_approval``: pauses for approval of every write before the first.
approval_graph = build_served_graph(approve_writes=True, name="phasegraph_approval")
