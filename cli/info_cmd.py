"""``phasegraph validate`` and ``phasegraph skills``: look before running."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from phasegraph.cli.common import EXIT_OK, Env
from phasegraph.graph.model.plan import check_plan, load_plan
from phasegraph.graph.preflight.acceptance import accept_given_plan
from phasegraph.recipes import expand_recipe


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
    plan = load_plan(args.plan)
    if args.workspace is not None:  # as a run checks it before it starts
        plan = accept_given_plan(plan, env.registry, args.workspace, None)[0]
    else:
        plan = check_plan(expand_recipe(plan, env.registry), env.registry)
    env.out.print(f"[green]ok[/]: {args.plan} is a valid plan of {len(plan.steps)} steps")
    return EXIT_OK
