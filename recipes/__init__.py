"""Built-in recipes: deterministic planners and consolidators for common jobs.

A plan names a recipe (``recipe: {name: rename, args: {...}}``) instead of its steps. Add
your own with :func:`register_recipe`; it is then usable by name in every plan.
"""

from __future__ import annotations

from phasegraph.recipes.base import Recipe
from phasegraph.recipes.rename import RENAME

#: The recipes plans may name, by name.
RECIPES: dict[str, Recipe] = {RENAME.name: RENAME}


def register_recipe(recipe: Recipe, *, replace: bool = False) -> Recipe:
    """Make ``recipe`` usable by name in plans; a second recipe of the same name is refused
    unless ``replace``."""
    if recipe.name in RECIPES and not replace:
        raise ValueError(
            f"a recipe named {recipe.name!r} is already registered; pass replace=True to "
            "replace it"
        )
    RECIPES[recipe.name] = recipe
    return recipe


__all__ = ["RECIPES", "Recipe", "register_recipe"]
