"""Built-in recipes: deterministic planners and consolidators for common jobs.

A plan names a recipe (``recipe: {name: rename, args: {...}}``) instead of its steps. Add
your own with :func:`register_recipe`; it is then usable by name in every plan.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from phasegraph.graph.plan import Plan
from phasegraph.recipes.base import Recipe, Writes
from phasegraph.recipes.rename import RENAME
from phasegraph.skills.errors import PlanError
from phasegraph.skills.text import describe_errors

#: The recipes plans may name, by name.
RECIPES: dict[str, Recipe] = {RENAME.name: RENAME}


def register_recipe(recipe: Recipe, *, replace: bool = False) -> Recipe:
    """Make ``recipe`` usable by name in plans; a second recipe of the same name is refused
    unless ``replace``."""
    if recipe.name in RECIPES and not replace:
        raise ValueError(
            f"a recipe named {recipe.name!r} is already registered; pass replace=True to replace it"
        )
    RECIPES[recipe.name] = recipe
    return recipe


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
        raise PlanError(describe_errors(exc, f"recipe {recipe.name}")) from exc
    return plan.model_copy(update={"steps": steps})


def check_recipe(plan: Plan, workspace: Path | None) -> Plan:
    """``plan``, once its recipe's arguments are checked against ``workspace`` (a
    ``defined_in`` that is not there); raises :class:`PlanError`. Without a workspace, or
    a recipe, nothing is checked."""
    if plan.recipe is None or workspace is None:
        return plan
    recipe = RECIPES.get(plan.recipe.name)
    if recipe is None:
        return plan
    try:
        problems = recipe.check(plan.recipe.args, workspace)
    except ValidationError as exc:
        problems = describe_errors(exc, f"recipe {recipe.name}")
    if problems:
        raise PlanError(problems)
    return plan


__all__ = ["RECIPES", "Recipe", "Writes", "check_recipe", "expand_recipe", "register_recipe"]
