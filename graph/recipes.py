"""Expanding a plan that names a recipe into concrete steps."""

from __future__ import annotations

from pydantic import ValidationError

from phasegraph.graph.plan import Plan
from phasegraph.recipes import RECIPES
from phasegraph.skills.errors import PlanError


def expand_recipe(plan: Plan) -> Plan:
    """``plan`` with its recipe's steps filled in (unchanged when it has no recipe)."""
    if plan.recipe is None:
        return plan
    recipe = RECIPES.get(plan.recipe.name)
    if recipe is None:
        raise PlanError(
            [f"recipe: unknown recipe {plan.recipe.name!r} (known: {', '.join(sorted(RECIPES))})"]
        )
    if plan.steps:
        raise PlanError(["recipe: a plan names either a recipe or its own steps, not both"])
    try:
        steps = recipe.steps(plan.recipe.args)
    except ValidationError as exc:
        raise PlanError(
            [
                f"recipe {recipe.name}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors()
            ]
        ) from exc
    return plan.model_copy(update={"steps": steps})
