"""``phasegraph validate`` and ``phasegraph skills``: look before running."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from phasegraph.cli.common import EXIT_OK, Env
from phasegraph.graph.plan import check_plan, load_plan
from phasegraph.graph.preflight import preflight
from phasegraph.recipes import check_recipe, expand_recipe


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    val = sub.add_parser("validate", help="check a plan without running it")
    val.add_argument("plan", type=Path)
    val.add_argument("--workspace", "-w", type=Path, help="also check paths and programs here")
    val.set_defaults(handler=validate)
    skills = sub.add_parser("skills", help="list the available skills")
    skills.set_defaults(handler=list_skills)


def list_skills(args: argparse.Namespace, env: Env) -> int:
    table = Table("skill", "phase", "arguments", "what it does")
    for skill in env.registry:
        fields = ", ".join(skill.args_model.model_fields)
        table.add_row(skill.name, skill.kind.value, fields, skill.description)
    env.out.print(table)
    return EXIT_OK


def validate(args: argparse.Namespace, env: Env) -> int:
    plan = expand_recipe(load_plan(args.plan))
    workspace: Path | None = args.workspace
    if workspace is not None:
        workspace = preflight(plan, env.registry, workspace).workspace
    check_plan(check_recipe(plan, workspace), env.registry, workspace=workspace)
    env.out.print(f"[green]ok[/]: {args.plan} is a valid plan of {len(plan.steps)} steps")
    return EXIT_OK
