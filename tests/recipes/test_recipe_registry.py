"""The recipe registry: recipes by name, duplicates refused unless replaced, and the rule
for which recipes a plan sees: a registry given sees only its own; none given, the
process-wide one :func:`register_recipe` adds to (and :func:`default_recipes` copies)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from phasegraph import build_orchestrator, run_plan
from phasegraph import register_recipe as public_register_recipe
from phasegraph.graph.model.plan import Plan, Step, parse_plan
from phasegraph.recipes import check_recipe, expand_recipe
from phasegraph.recipes.base import Recipe
from phasegraph.recipes.registry import (
    BUILTIN_RECIPES,
    RECIPES,
    RecipeRegistry,
    default_recipes,
    register_recipe,
)
from phasegraph.recipes.rename import RENAME
from phasegraph.skills.core.errors import PlanError


class TodoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    word: str = "TODO"


class CountTodos(Recipe):
    """A recipe of a user's own: one search, no writes; its check wants a README."""

    name = "count_todos"
    description = "Count the TODOs."
    args_model = TodoArgs

    def steps(self, args: Mapping[str, Any]) -> list[Step]:
        a = TodoArgs.model_validate(args)
        return [Step(id="find", skill="rg_search", args={"pattern": a.word})]

    def check(self, args: Mapping[str, Any], workspace: Path) -> list[str]:
        return [] if (workspace / "README.md").is_file() else ["no README.md"]

    def consolidate(
        self,
        args: Mapping[str, Any],
        outputs: Mapping[str, Mapping[str, Any]],
        workspace: Path,
    ) -> list[Step]:
        return []


class OtherRename(CountTodos):
    """A second recipe named ``rename``."""

    name = "rename"


@pytest.fixture
def process_wide(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecipeRegistry]:
    """The process-wide registry, restored after the test."""
    monkeypatch.setattr(RECIPES, "_recipes", dict(RECIPES._recipes))
    yield RECIPES


def plan_naming(recipe: str) -> Plan:
    return parse_plan({"goal": "g", "recipe": {"name": recipe}})


def test_a_registry_holds_recipes_by_name() -> None:
    todos = CountTodos()
    recipes = RecipeRegistry([RENAME])
    assert recipes.register(todos) is todos
    assert len(recipes) == 2
    assert recipes.get("count_todos") is todos and recipes["rename"] is RENAME
    assert recipes.get("nope") is None and "nope" not in recipes and "rename" in recipes
    assert [r.name for r in recipes] == ["count_todos", "rename"]  # by name
    with pytest.raises(KeyError):
        recipes["nope"]


def test_a_second_recipe_of_a_name_is_refused_unless_replaced() -> None:
    recipes = RecipeRegistry(BUILTIN_RECIPES)
    other = OtherRename()
    with pytest.raises(ValueError, match="'rename' is already registered; pass replace=True"):
        recipes.register(other)
    assert recipes.get("rename") is RENAME
    assert recipes.register(other, replace=True) is other
    assert recipes["rename"] is other and len(recipes) == 1
    with pytest.raises(ValueError, match="already registered"):
        RecipeRegistry([RENAME, OtherRename()])


def test_default_recipes_is_a_fresh_registry_of_the_built_ins() -> None:
    first, second = default_recipes(), default_recipes()
    assert [r.name for r in first] == [r.name for r in BUILTIN_RECIPES] == ["rename"]
    first.register(CountTodos())
    assert "count_todos" not in second and "count_todos" not in RECIPES
    assert "count_todos" not in default_recipes()


def test_register_recipe_adds_to_the_process_wide_registry(
    process_wide: RecipeRegistry,
) -> None:
    before = default_recipes()
    todos = CountTodos()
    assert public_register_recipe(todos) is todos
    assert process_wide["count_todos"] is todos
    # A registry made after sees it (a graph built without one); one made before does not.
    assert default_recipes()["count_todos"] is todos
    assert "count_todos" not in before
    # The old call shape, no registry given, reads the process-wide one.
    assert [s.id for s in expand_recipe(plan_naming("count_todos")).steps] == ["find"]
    with pytest.raises(ValueError, match="already registered"):
        register_recipe(CountTodos())
    other = OtherRename()
    register_recipe(other, replace=True)
    assert process_wide["rename"] is other


def test_a_plan_given_a_registry_sees_only_its_recipes(process_wide: RecipeRegistry) -> None:
    register_recipe(CountTodos())
    own = RecipeRegistry()
    with pytest.raises(PlanError, match=r"unknown recipe 'count_todos' \(known: \)"):
        expand_recipe(plan_naming("count_todos"), recipes=own)
    own.register(CountTodos())
    with pytest.raises(PlanError, match=r"unknown recipe 'rename' \(known: count_todos\)"):
        expand_recipe(plan_naming("rename"), recipes=own)
    assert [s.skill for s in expand_recipe(plan_naming("count_todos"), recipes=own).steps] == [
        "rg_search"
    ]
    with pytest.raises(PlanError, match=r"known: count_todos, rename\)"):
        expand_recipe(plan_naming("nope"))


def test_check_recipe_asks_the_registry_given(tmp_path: Path) -> None:
    plan = plan_naming("count_todos")
    own = RecipeRegistry([CountTodos()])
    with pytest.raises(PlanError, match=r"no README\.md"):
        check_recipe(plan, tmp_path, recipes=own)
    # A recipe the registry does not hold is expand_recipe's to refuse, not check_recipe's.
    assert check_recipe(plan, tmp_path) is plan
    (tmp_path / "README.md").write_text("# hi\n", encoding="utf-8")
    assert check_recipe(plan, tmp_path, recipes=own) is plan


async def test_a_graph_built_with_its_own_recipes_runs_only_those(
    make_repo: Callable[[dict[str, str]], Path],
) -> None:
    repo = make_repo({"README.md": "# hi\n", "lib.py": "x = 1  # TODO\n"})
    own = RecipeRegistry([CountTodos()])
    graph = build_orchestrator(recipes=own)
    report = await run_plan(graph, {"goal": "g", "recipe": {"name": "count_todos"}}, repo)
    assert report.status == "completed", report.error
    assert [s.id for s in report.steps] == ["find"]
    # The built-in rename is not in this graph's registry: refused before anything runs.
    refused = await run_plan(graph, {"goal": "g", "recipe": {"name": "rename"}}, repo)
    assert refused.status == "stopped"
    assert "unknown recipe 'rename' (known: count_todos)" in (refused.error or "")
    # A graph built without one sees the process-wide registry (the built-ins).
    default = await run_plan(
        build_orchestrator(), {"goal": "g", "recipe": {"name": "count_todos"}}, repo
    )
    assert "unknown recipe 'count_todos'" in (default.error or "")
