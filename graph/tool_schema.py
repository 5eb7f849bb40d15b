"""A plan as typed JSON schema, for a tool's caller: each skill's step, each recipe's args.

Generated from the registry's skills' args models and the recipes' (the same models the
planner accepts a plan by), never typed twice: steps are a union discriminated by ``skill``,
each with its skill's args (types, required fields, defaults, descriptions), and a recipe is
``{name, args}`` per recipe, discriminated by ``name``. Every ``$ref`` is inlined, so the schema
can be embedded anywhere (a tool's input, an MCP tool's ``inputSchema``). The same schema gives
the one-line signatures a tool's description lists (:func:`plan_catalogue`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.errors import PydanticUserError

from phasegraph.graph.model.plan import Plan, Step
from phasegraph.recipes.base import Recipe
from phasegraph.recipes.registry import RECIPES, RecipeRegistry
from phasegraph.skills.base import PathArg, Skill
from phasegraph.skills.registry import SkillRegistry

#: Keys whose value is data, not schema: left as they are.
_VALUES = frozenset({"default", "const", "enum", "examples"})
#: Said of an args field that is a path: plans give it relative to the workspace.
PATH_NOTE = "A path relative to the workspace."


def plan_json_schema(
    registry: SkillRegistry, recipes: RecipeRegistry | None = None
) -> dict[str, Any]:
    """The JSON schema of a plan whose steps use ``registry``'s skills and whose recipe is one
    of ``recipes`` (default: the process-wide registry, :data:`~phasegraph.recipes.registry.
    RECIPES`, as it is now).

    A step is ``{id, skill, args, after}`` with ``args`` typed by its skill (``anyOf`` the
    skills, ``skill`` a constant in each, the discriminator); a recipe is ``{name, args}``
    typed by its recipe (``anyOf`` the recipes and null). Self-contained: no ``$ref``, no
    ``$defs``.

    Example::

        schema = plan_json_schema(default_registry())
        schema["properties"]["steps"]["items"]["anyOf"][0]["properties"]["skill"]
        # {'const': 'fetch_url', 'type': 'string'}
    """
    chosen = RECIPES if recipes is None else recipes
    schema: dict[str, Any] = _untitled(_inlined(Plan.model_json_schema()))
    props: dict[str, Any] = schema["properties"]
    branches = [step_json_schema(skill) for skill in registry]
    props["steps"] = {
        "type": "array",
        "description": "The steps, in any order: reads run first (in parallel, each after "
        "its 'after'), then writes one at a time in plan order, then checks, then the "
        "commit. Each step's 'skill' says which args it takes.",
        "items": _union(branches, "skill") if branches else _step_schema(),
    }
    listed = [recipe_json_schema(recipe) for recipe in chosen]
    if listed:
        recipe = props["recipe"]
        props["recipe"] = {  # one of the recipes (its name a constant in each), or none
            "anyOf": [*listed, {"type": "null"}],
            "default": None,
            "description": recipe.get("description", ""),
        }
    else:  # no recipe a plan could name
        props.pop("recipe", None)
    schema["title"] = "Plan"
    return schema


def step_json_schema(skill: Skill[Any]) -> dict[str, Any]:
    """One step of ``skill``: ``{id, skill, args, after}``, ``skill`` the constant, ``args``
    the skill's args model (required when the model has required fields)."""
    step = _step_schema()
    args = _model_schema(skill.args_model)
    args["description"] = f"The args of {skill.name}."
    if not args.get("required"):
        args["default"] = {}
    props = step["properties"]
    props["skill"] = {"const": skill.name, "type": "string"}
    props["args"] = args
    step["required"] = ["id", "skill", *(["args"] if args.get("required") else [])]
    step["title"] = skill.name
    step["description"] = _sentence(f"{skill.kind.value} step: {skill.description}")
    return step


def recipe_json_schema(recipe: Recipe) -> dict[str, Any]:
    """A plan's ``recipe``: ``{name, args}``, ``name`` the constant, ``args`` the recipe's."""
    args = _model_schema(recipe.args_model)
    args["description"] = f"The args of the {recipe.name} recipe."
    return {
        "type": "object",
        "title": recipe.name,
        "description": _sentence(recipe.description),
        "properties": {"name": {"const": recipe.name, "type": "string"}, "args": args},
        "required": ["name", *(["args"] if args.get("required") else [])],
        "additionalProperties": False,
    }


def plan_catalogue(registry: SkillRegistry, recipes: RecipeRegistry | None = None) -> str:
    """What a plan may use, a line each: every skill as ``name(arg: type, opt?: type = default)
    [phase]: what it does``, then every recipe likewise: a tool's description."""
    chosen = RECIPES if recipes is None else recipes
    skills = [
        f"- {s.name}({signature(_model_schema(s.args_model))}) [{s.kind.value}]: {s.description}"
        for s in registry
    ]
    lines = ["Skills a step may name (name(args) [phase]: what it does):", *skills]
    named = [
        f"- {r.name}({signature(_model_schema(r.args_model))}): {_first_line(r.description)}"
        for r in chosen
    ]
    if named:
        lines += ["Recipes a plan may name instead of (or beside) its steps:", *named]
    return "\n".join(lines)


def signature(schema: dict[str, Any]) -> str:
    """An object schema's properties as ``name: type`` (required) or ``name?: type = default``."""
    required = set(schema.get("required", []))
    parts = []
    for name, prop in dict(schema.get("properties", {})).items():
        text = f"{name}: {type_text(prop)}" if name in required else f"{name}?: {type_text(prop)}"
        if name not in required and prop.get("default") not in (None, [], {}):
            text += f" = {json.dumps(prop['default'])}"
        parts.append(text)
    return ", ".join(parts)


def type_text(prop: dict[str, Any]) -> str:
    """A property schema's type, short: ``string``, ``list[string]``, ``"a" | "b"``, ..."""
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " | ".join(type_text(p) for p in prop[key])
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items")
        return f"list[{type_text(items)}]" if isinstance(items, dict) and items else "list"
    if kind == "object" and prop.get("properties"):
        return "{" + signature(prop) + "}"
    if isinstance(kind, list):
        return " | ".join(map(str, kind))
    return str(kind) if kind else "any"


def _step_schema() -> dict[str, Any]:
    schema: dict[str, Any] = _untitled(_inlined(Step.model_json_schema()))
    return schema


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema, inlined, without pydantic's generated titles, its path fields
    (:class:`~phasegraph.skills.base.PathArg`) said to be relative to the workspace; a model
    pydantic cannot describe (a custom skill's) is an object its skill validates."""
    try:
        raw = model.model_json_schema()
    except PydanticUserError:
        return {"type": "object", "description": "Validated by the skill."}
    schema: dict[str, Any] = _untitled(_inlined(raw))
    props = schema.get("properties", {})
    for name, info in model.model_fields.items():
        if name in props and any(isinstance(m, PathArg) for m in info.metadata):
            said = props[name].get("description")
            props[name]["description"] = f"{said} {PATH_NOTE}" if said else PATH_NOTE
    return schema


def _union(branches: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Objects told apart by the constant ``key``: ``anyOf`` (what every model provider's tool
    schema takes) with the OpenAPI ``discriminator`` naming the key."""
    if len(branches) == 1:
        return branches[0]
    return {"anyOf": branches, "discriminator": {"propertyName": key}}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``#/$defs/`` reference replaced by its definition. A recursive
    one (which cannot be inlined) becomes an object its owner validates."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            rest = {k: walk(v, seen) for k, v in node.items() if k != "$ref"}
            if name in seen or name not in defs:
                return {"type": "object", **rest}
            return {**walk(defs[name], seen | {name}), **rest}
        return {k: walk(v, seen) for k, v in node.items() if k != "$defs"}

    out: dict[str, Any] = walk(schema, frozenset())
    return out


def _untitled(node: Any) -> Any:
    """Without pydantic's titles (``"Max Bytes"`` for ``max_bytes``): noise to a model."""
    if isinstance(node, list):
        return [_untitled(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        k: v if k in _VALUES else dict(_names(v)) if k == "properties" else _untitled(v)
        for k, v in node.items()
        if k != "title"
    }


def _names(props: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    # Under "properties" the keys are field names (a field may be called "title").
    return ((name, _untitled(prop)) for name, prop in props.items())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith(".") else text + "."


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
