"""``phasegraph validate`` and ``phasegraph skills``: look before running."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from phasegraph.cli.common import EXIT_BAD_INPUT, EXIT_OK, Env
from phasegraph.cli.output import print_line
from phasegraph.graph.model.plan import Plan, check_plan, load_plan
from phasegraph.graph.preflight.acceptance import accept_given_plan
from phasegraph.recipes import expand_recipe
from phasegraph.skills.base import Skill
from phasegraph.skills.core.errors import PlanError, PreflightError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    val = sub.add_parser("validate", help="check a plan without running it")
    val.add_argument("plan", type=Path)
    val.add_argument("--workspace", "-w", type=Path, help="also check paths and programs here")
    val.add_argument(
        "--json",
        action="store_true",
        help="print the verdict as one JSON object (plan, valid, error, goal, recipe, steps, "
        "workspace)",
    )
    val.set_defaults(handler=validate)
    skills = sub.add_parser("skills", help="list the available skills")
    skills.add_argument(
        "--json",
        action="store_true",
        help="print one JSON array: each skill's name, phase, description, arguments and "
        "args_schema (the JSON schema of its arguments)",
    )
    skills.set_defaults(handler=list_skills)


def list_skills(args: argparse.Namespace, env: Env) -> int:
    if args.json:
        print_line(json.dumps([_skill_row(skill) for skill in env.registry]))
        return EXIT_OK
    table = Table("skill", "phase", "arguments", "what it does")
    for skill in env.registry:
        fields = ", ".join(skill.args_model.model_fields)
        table.add_row(skill.name, skill.kind.value, fields, skill.description)
    env.out.print(table)
    return EXIT_OK


def _skill_row(skill: Skill[Any]) -> dict[str, Any]:
    return {
        "name": skill.name,
        "phase": skill.kind.value,
        "description": skill.description,
        "arguments": list(skill.args_model.model_fields),
        "args_schema": skill.args_model.model_json_schema(),
    }


def validate(args: argparse.Namespace, env: Env) -> int:
    try:
        plan = _validated(args, env)
    except (PlanError, PreflightError) as exc:
        if not args.json:
            raise  # main prints it, exit 2
        print_line(json.dumps(_verdict(args, env, None, str(exc))))
        return EXIT_BAD_INPUT
    if args.json:
        print_line(json.dumps(_verdict(args, env, plan, None)))
    else:
        env.out.print(
            f"[green]ok[/]: {escape(str(args.plan))} is a valid plan of {len(plan.steps)} steps"
        )
    return EXIT_OK


def _validated(args: argparse.Namespace, env: Env) -> Plan:
    plan = load_plan(args.plan)
    if args.workspace is not None:  # as a run checks it before it starts
        return accept_given_plan(plan, env.registry, args.workspace, None)[0]
    return check_plan(expand_recipe(plan, env.registry), env.registry)


def _verdict(
    args: argparse.Namespace, env: Env, plan: Plan | None, error: str | None
) -> dict[str, Any]:
    """``validate --json``: the same keys whether the plan is valid or not."""
    steps = [
        {
            "id": step.id,
            "skill": step.skill,
            "phase": skill.kind.value if (skill := env.registry.get(step.skill)) else None,
            "after": list(step.after),
        }
        for step in (plan.steps if plan is not None else [])
    ]
    return {
        "plan": str(args.plan),
        "valid": error is None,
        "error": error,
        "goal": plan.goal if plan is not None else None,
        "recipe": plan.recipe.name if plan is not None and plan.recipe is not None else None,
        "steps": steps,
        "workspace": str(args.workspace.absolute()) if args.workspace is not None else None,
    }
