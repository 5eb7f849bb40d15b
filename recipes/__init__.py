"""Built-in recipes: deterministic planners and consolidators for common jobs."""

from __future__ import annotations

from phasegraph.recipes.base import Recipe
from phasegraph.recipes.rename import RENAME

RECIPES: dict[str, Recipe] = {RENAME.name: RENAME}

__all__ = ["RECIPES", "Recipe"]
