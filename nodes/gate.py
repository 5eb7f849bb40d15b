"""The quality gate: block the commit on any finding the run introduced (any at all if strict)."""

from __future__ import annotations

from typing import Any, Literal

from phasegraph.graph.model.state import Failure, State

MAX_LISTED = 10


async def gate(state: State) -> dict[str, Any]:
    if state.get("failure"):
        return {}
    blocking = {k: v for k, v in state.get("verdicts", {}).items() if v["blocking"]}
    if not blocking:
        return {}
    parts = []
    for step_id, verdict in blocking.items():
        shown = verdict["introduced"][:MAX_LISTED]
        more = len(verdict["introduced"]) - len(shown)
        parts.append(f"{step_id}: " + "; ".join(shown) + (f"; and {more} more" if more else ""))
    first = next(iter(blocking))
    return {
        "failure": Failure(
            step=first,
            kind="gate",
            error="the quality gate is red, nothing was committed: " + " | ".join(parts),
        )
    }


def route_gate(state: State, commits: bool) -> Literal["stop_and_report", "commit", "report"]:
    if state.get("failure"):
        return "stop_and_report"
    return "commit" if commits else "report"
