"""A plan's recipe: expanding it into steps, checking its arguments, and the writes a plan adds.

A plan names a recipe (``recipe: {name: rename, args: {...}}``) instead of its steps, or
beside steps of its own (the one manual fix a rename needs): its own writes run after the
recipe's, on the files as those leave them, and before the checks. The recipes a plan may
name are in a :class:`~phasegraph.recipes.registry.RecipeRegistry`; without one, the
process-wide registry :func:`~phasegraph.recipes.registry.register_recipe` adds to.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from phasegraph.graph.model.plan import Plan, Step, phase_order
from phasegraph.recipes.registry import RECIPES, RecipeRegistry
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PlanError
from phasegraph.skills.core.text import describe_errors
from phasegraph.skills.registry import SkillRegistry


def expand_recipe(
    plan: Plan, registry: SkillRegistry | None = None, *, recipes: RecipeRegistry | None = None
) -> Plan:
    """``plan`` with its recipe's steps filled in (unchanged when it has no recipe, or its
    recipe's steps are already there: a plan expanded once is not expanded again).

    The recipe is looked up in ``recipes`` (default: the process-wide registry). The plan's
    own steps join the recipe's; with ``registry``, all of them in phase order (reads,
    writes, verifies, commit; the recipe's first within a phase). The recipe's writes come
    later, from the reads, and go before the plan's own (:func:`added_writes`).
    """
    if plan.recipe is None:
        return plan
    known = recipes if recipes is not None else RECIPES
    recipe = known.get(plan.recipe.name)
    if recipe is None:
        names = ", ".join(r.name for r in known)
        raise PlanError([f"recipe: unknown recipe {plan.recipe.name!r} (known: {names})"])
    try:
        steps = recipe.steps(plan.recipe.args)
    except ValidationError as exc:
        raise PlanError(describe_errors(exc, f"recipe {recipe.name}")) from exc
    if steps and all(step in plan.steps for step in steps):
        return plan
    merged = [*steps, *plan.steps]
    if registry is not None:
        merged.sort(key=lambda step: phase_order(step, registry))  # stable: the recipe's first
    return plan.model_copy(update={"steps": merged})


def added_writes(plan: Plan, registry: SkillRegistry) -> list[Step]:
    """The write steps ``plan`` adds to its recipe's (none without a recipe).

    They run after the recipe's writes, on the files as those leave them, and before the
    checks; so they are tried in memory with the recipe's writes once the reads have made
    those (the consolidation's dry run), not by preflight on the untouched files.
    """
    if plan.recipe is None:
        return []
    return [s for s in plan.steps if (k := registry.get(s.skill)) and k.kind is SkillKind.WRITE]


def before_recipe_writes(plan: Plan, registry: SkillRegistry) -> tuple[Plan, tuple[str, ...]]:
    """``plan`` as preflight can try it before its recipe's writes are known: without the
    writes it adds (:func:`added_writes`), which apply on top of the recipe's; and the
    programs those writes need, for preflight to check all the same."""
    added = added_writes(plan, registry)
    if not added:
        return plan, ()
    programs = tuple(p for s in added if (skill := registry.get(s.skill)) for p in skill.programs)
    left = {id(step) for step in added}
    tried = plan.model_copy(update={"steps": [s for s in plan.steps if id(s) not in left]})
    return tried, programs


def check_recipe(
    plan: Plan, workspace: Path | None, *, recipes: RecipeRegistry | None = None
) -> Plan:
    """``plan``, once its recipe's arguments are checked against ``workspace`` (a
    ``defined_in`` that is not there); raises :class:`PlanError`. Without a workspace, or
    a recipe, nothing is checked. The recipe is looked up in ``recipes`` (default: the
    process-wide registry); one it does not hold is :func:`expand_recipe`'s to refuse."""
    if plan.recipe is None or workspace is None:
        return plan
    recipe = (recipes if recipes is not None else RECIPES).get(plan.recipe.name)
    if recipe is None:
        return plan
    try:
        problems = recipe.check(plan.recipe.args, workspace)
    except ValidationError as exc:
        problems = describe_errors(exc, f"recipe {recipe.name}")
    if problems:
        raise PlanError(problems)
    return plan


__all__ = [
    "added_writes",
    "before_recipe_writes",
    "check_recipe",
    "expand_recipe",
]
