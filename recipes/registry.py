"""The recipe registry: the recipes a plan may name, by name.

A graph, a CLI command or a check takes a :class:`RecipeRegistry` and sees only its recipes.
:func:`register_recipe` adds to the process-wide registry (:data:`RECIPES`), which code given
no registry reads; :func:`default_recipes` is a fresh copy of it (the built-ins and every
recipe registered so far), for a graph built without a registry of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from phasegraph.recipes.base import Recipe
from phasegraph.recipes.rename import RENAME


class RecipeRegistry:
    """A name → :class:`Recipe` mapping.

    Example::

        recipes = default_recipes()
        recipes.register(MyRecipe())
    """

    def __init__(self, recipes: Iterable[Recipe] = ()) -> None:
        self._recipes: dict[str, Recipe] = {}
        for recipe in recipes:
            self.register(recipe)

    def register(self, recipe: Recipe, *, replace: bool = False) -> Recipe:
        """Make ``recipe`` usable by name in plans; a second recipe of the same name is
        refused unless ``replace``."""
        if recipe.name in self._recipes and not replace:
            raise ValueError(
                f"a recipe named {recipe.name!r} is already registered; "
                "pass replace=True to replace it"
            )
        self._recipes[recipe.name] = recipe
        return recipe

    def get(self, name: str) -> Recipe | None:
        return self._recipes.get(name)

    def __getitem__(self, name: str) -> Recipe:
        return self._recipes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._recipes

    def __iter__(self) -> Iterator[Recipe]:
        """The recipes, by name."""
        return iter(sorted(self._recipes.values(), key=lambda recipe: recipe.name))

    def __len__(self) -> int:
        return len(self._recipes)


#: The recipes phasegraph ships.
BUILTIN_RECIPES: tuple[Recipe, ...] = (RENAME,)

#: The process-wide registry: the built-ins and every recipe :func:`register_recipe` added.
#: Code given no registry of its own names recipes from here.
RECIPES = RecipeRegistry(BUILTIN_RECIPES)


def register_recipe(recipe: Recipe, *, replace: bool = False) -> Recipe:
    """Make ``recipe`` usable by name in every plan (the process-wide registry, and every
    :func:`default_recipes` made after); a second recipe of the same name is refused unless
    ``replace``."""
    return RECIPES.register(recipe, replace=replace)


def default_recipes() -> RecipeRegistry:
    """A fresh registry holding the built-in recipes and those :func:`register_recipe` has
    added so far; registering into it leaves the process-wide registry alone."""
    return RecipeRegistry(RECIPES)
