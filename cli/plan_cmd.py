"""``phasegraph plan show PLAN``: the DAG a plan will run, as text or mermaid."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from phasegraph.cli.common import EXIT_OK, Env
from phasegraph.graph.model.plan import check_plan, load_plan
from phasegraph.graph.preflight.diagram import plan_mermaid
from phasegraph.recipes import expand_recipe
from phasegraph.skills.base import SkillKind

PHASE_NOTES = {
    SkillKind.READ: "in parallel",
    SkillKind.WRITE: "one at a time, each verified",
    SkillKind.VERIFY: "in parallel, against a baseline",
    SkillKind.COMMIT: "only if every verify is green",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = sub.add_parser("plan", help="look at a plan")
    verbs = plan.add_subparsers(dest="verb", required=True)
    show = verbs.add_parser("show", help="print the DAG a plan will run")
    show.add_argument("plan", type=Path)
    show.add_argument("--mermaid", action="store_true", help="print mermaid flowchart source")
    show.set_defaults(handler=show_command)


def show_command(args: argparse.Namespace, env: Env) -> int:
    plan = load_plan(args.plan)
    expanded = check_plan(expand_recipe(plan, env.registry), env.registry)
    if args.mermaid:
        env.out.print(plan_mermaid(expanded, env.registry), markup=False, end="")
        return EXIT_OK
    table = Table("phase", "step", "skill", "after", "args", title=expanded.goal)
    for kind in SkillKind:
        steps = [s for s in expanded.steps if (k := env.registry.get(s.skill)) and k.kind is kind]
        recipe = expanded.recipe if kind is SkillKind.WRITE else None
        if recipe is not None:  # its writes come from the reads; the plan's own follow them
            table.add_row(
                f"{kind.value} ({PHASE_NOTES[kind]})",
                "…",
                "",
                "",
                f"edit blocks from the reads (recipe {recipe.name})",
            )
        for n, step in enumerate(steps):
            args_text = ", ".join(f"{k}={v!r}" for k, v in step.args.items())
            table.add_row(
                f"{kind.value} ({PHASE_NOTES[kind]})" if n == 0 and recipe is None else "",
                step.id,
                step.skill,
                ", ".join(step.after),
                args_text if len(args_text) <= 80 else args_text[:79] + "…",
            )
    env.out.print(table)
    return EXIT_OK
