"""Reading the plan in state: steps by phase, and which are ready to run."""

from __future__ import annotations

from phasegraph.graph.model.plan import PlanStep
from phasegraph.graph.model.state import State
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry


def plan_steps(state: State) -> list[PlanStep]:
    """The plan's steps, in plan order, as the state holds them."""
    return list(state.get("plan", {}).get("steps", []))


def steps_of(state: State, registry: SkillRegistry, kind: SkillKind) -> list[PlanStep]:
    """The plan's steps whose skill is of ``kind``, in plan order."""
    out = []
    for step in plan_steps(state):
        skill = registry.get(step["skill"])
        if skill is not None and skill.kind is kind:
            out.append(step)
    return out


def status(state: State, step_id: str) -> str:
    row = state.get("steps", {}).get(step_id)
    return row["status"] if row else "pending"
