"""The plan's JSON schema a tool (or an MCP server) offers a model: every skill's step typed by
its args model, every recipe's args, self-contained, and what it accepts is what a run does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs
from pydantic import BaseModel, Field

from phasegraph.graph.model.plan import Step, parse_plan, validate_plan
from phasegraph.graph.tool_schema import plan_catalogue, plan_json_schema
from phasegraph.recipes.base import Recipe
from phasegraph.recipes.registry import RecipeRegistry, default_recipes
from phasegraph.skills.base import SkillContext, SkillResult
from phasegraph.skills.registry import SkillRegistry, default_registry


def branches(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The step schemas, by the skill each one names."""
    items = schema["properties"]["steps"]["items"]
    return {b["properties"]["skill"]["const"]: b for b in items["anyOf"]}


GREETING = {
    "goal": "greet with hi",
    "steps": [
        {"id": "find", "skill": "rg_search", "args": {"pattern": "hello"}},
        {
            "id": "edit",
            "skill": "edit_block",
            "args": {"path": "lib.py", "search": "'hello '", "replace": "'hi '"},
            "after": ["find"],
        },
        {"id": "tests", "skill": "run_pytest"},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Greet with hi"}},
    ],
}


def test_every_step_is_typed_by_its_skill_told_apart_by_skill() -> None:
    registry = default_registry()
    schema = plan_json_schema(registry)

    steps = branches(schema)
    assert sorted(steps) == sorted(s.name for s in registry)
    assert schema["properties"]["steps"]["items"]["discriminator"] == {"propertyName": "skill"}
    edit = steps["edit_block"]
    assert edit["required"] == ["id", "skill", "args"]
    assert edit["properties"]["args"]["required"] == ["path", "search", "replace"]
    assert edit["properties"]["args"]["additionalProperties"] is False
    assert (
        "relative to the workspace"
        in edit["properties"]["args"]["properties"]["path"]["description"]
    )
    assert "write step" in edit["description"]
    read = steps["read_file"]["properties"]["args"]["properties"]["max_bytes"]
    assert (read["type"], read["default"]) == ("integer", 1_000_000)
    # A skill whose args are all optional may leave them out.
    assert steps["run_pytest"]["required"] == ["id", "skill"]
    assert steps["run_pytest"]["properties"]["args"]["default"] == {}
    assert schema["required"] == ["goal"]


def test_each_recipe_is_its_name_and_typed_args_and_rename_is_there() -> None:
    schema = plan_json_schema(default_registry())

    recipe = schema["properties"]["recipe"]
    (rename, null) = recipe["anyOf"]
    assert null == {"type": "null"}
    assert rename["properties"]["name"] == {"const": "rename", "type": "string"}
    args = rename["properties"]["args"]
    assert sorted(args["required"]) == ["new", "old"]
    assert args["properties"]["commit"] == {
        "default": True,
        "description": "Commit the edits when every verify is green.",
        "type": "boolean",
    }


def test_the_schema_is_self_contained_and_valid_json_schema() -> None:
    schema = plan_json_schema(default_registry())
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text
    Draft202012Validator.check_schema(schema)
    # Embedded in another schema (a tool's input), it still resolves: nothing points outside.
    Draft202012Validator.check_schema({"type": "object", "properties": {"plan": schema}})


def test_what_the_schema_accepts_is_what_a_run_accepts() -> None:
    registry = default_registry()
    validator = Draft202012Validator(plan_json_schema(registry))
    rename = {"goal": "rename", "recipe": {"name": "rename", "args": {"old": "a", "new": "b"}}}
    for plan in (GREETING, rename):
        assert list(validator.iter_errors(plan)) == []
        assert validate_plan(parse_plan(plan), registry) == []

    missing = json.loads(json.dumps(GREETING))
    del missing["steps"][1]["args"]["search"]
    unknown: dict[str, Any] = {"goal": "g", "steps": [{"id": "a", "skill": "no_such_skill"}]}
    bad_recipe: dict[str, Any] = {"goal": "g", "recipe": {"name": "rename", "args": {"old": "a"}}}
    for plan in (missing, unknown, bad_recipe):
        assert list(validator.iter_errors(plan)), plan
    assert validate_plan(parse_plan(missing), registry)
    assert validate_plan(parse_plan(unknown), registry)


class CountArgs(BaseModel):
    path: str = Field(description="The file to count.")
    blank: bool = False


class NothingArgs(BaseModel):
    note: str


class NothingRecipe(Recipe):
    name = "nothing"
    description = "Does nothing.\nA second line the catalogue leaves out."
    args_model = NothingArgs

    def steps(self, args: Mapping[str, Any]) -> list[Step]:
        return []

    def consolidate(
        self, args: Mapping[str, Any], outputs: Mapping[str, Mapping[str, Any]], workspace: Path
    ) -> list[Step]:
        return []


def test_a_registry_of_ones_own_gives_its_skills_and_recipes_only() -> None:
    registry = SkillRegistry()

    @registry.skill("count_lines", kind="read", args=CountArgs)
    async def count_lines(args: CountArgs, ctx: SkillContext) -> SkillResult:
        """Count the lines of a file."""
        return SkillResult(summary="0 lines")

    schema = plan_json_schema(registry, RecipeRegistry([NothingRecipe()]))

    # One skill: its step is the items' schema itself, no union.
    step = schema["properties"]["steps"]["items"]
    assert step["properties"]["skill"]["const"] == "count_lines"
    assert step["properties"]["args"]["properties"]["path"]["description"] == "The file to count."
    assert step["properties"]["args"]["required"] == ["path"]
    recipe, _ = schema["properties"]["recipe"]["anyOf"]
    assert recipe["properties"]["name"]["const"] == "nothing"
    assert recipe["properties"]["args"]["required"] == ["note"]

    no_recipes = plan_json_schema(registry, RecipeRegistry())
    assert "recipe" not in no_recipes["properties"]


def test_the_default_recipes_are_the_process_wide_ones_as_they_are_now() -> None:
    # A recipe registered after import is offered too (plans name it from RECIPES).
    recipes = default_recipes()
    recipes.register(NothingRecipe())
    offered = plan_json_schema(default_registry(), recipes)["properties"]["recipe"]["anyOf"]
    names = [b["properties"]["name"]["const"] for b in offered if "properties" in b]
    assert names == ["nothing", "rename"]


def test_the_catalogue_gives_each_skill_and_recipe_a_typed_signature() -> None:
    recipes = RecipeRegistry([*default_recipes(), NothingRecipe()])
    text = plan_catalogue(default_registry(), recipes)

    assert "- edit_block(path: string, search: string, replace: string) [write]: " in text
    assert "- read_file(path: string, max_bytes?: integer = 1000000) [read]" in text
    assert '- rename(old: string, new: string, path?: string = "."' in text
    assert "verify?: list[string | {skill: string, args?: object, id?: string | null}]" in text
    assert "- nothing(note: string): Does nothing." in text
    assert "second line" not in text


@pytest.mark.parametrize("registry", [SkillRegistry(), default_registry()])
def test_a_plan_without_steps_fits_any_registry(registry: SkillRegistry) -> None:
    validator = Draft202012Validator(plan_json_schema(registry))
    assert list(validator.iter_errors({"goal": "nothing yet"})) == []
    assert list(validator.iter_errors({"steps": []}))  # the goal is required
