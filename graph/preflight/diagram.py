"""A plan's DAG as a mermaid flowchart: the phases in order, the steps and their dependencies."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from phasegraph.graph.model.plan import Plan, Step, parse_plan
from phasegraph.recipes import expand_recipe
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry, default_registry

_TITLES = {
    SkillKind.READ: "read (parallel)",
    SkillKind.WRITE: "write (one at a time, each verified)",
    SkillKind.VERIFY: "verify (parallel)",
    SkillKind.COMMIT: "commit (only if green)",
}


def plan_mermaid(plan: Plan | Mapping[str, Any], registry: SkillRegistry | None = None) -> str:
    """The DAG ``plan`` will run, as mermaid ``flowchart`` source.

    One box per phase, in phase order; inside, a node per step (``id`` and
    skill), the writes chained in the order they run, and an arrow for each
    ``after``. A recipe plan is shown expanded; its writes, which come from the
    reads, show as one placeholder until the run has consolidated them (the
    plan in a run's state then holds them). Render it in a notebook as a
    markdown ```` ```mermaid ```` block, or paste it anywhere mermaid is drawn.
    """
    skills = registry if registry is not None else default_registry()
    model = parse_plan(plan)
    if not model.steps:
        model = expand_recipe(model)
    ids = {step.id: f"s{n}" for n, step in enumerate(model.steps)}
    phases: dict[SkillKind, list[Step]] = {}
    unknown: list[Step] = []
    for step in model.steps:
        skill = skills.get(step.skill)
        if skill is None:
            unknown.append(step)
        else:
            phases.setdefault(skill.kind, []).append(step)

    lines = ["flowchart LR"]
    boxes: list[str] = []
    for kind in SkillKind:
        steps = phases.get(kind, [])
        placeholder = kind is SkillKind.WRITE and not steps and model.recipe is not None
        if not steps and not placeholder:
            continue
        box = f"phase_{kind.value}"
        boxes.append(box)
        lines.append(f'  subgraph {box}["{_TITLES[kind]}"]')
        for step in steps:
            lines.append(f'    {ids[step.id]}["{_label(step)}"]')
        if placeholder:
            recipe = model.recipe.name if model.recipe else ""
            lines.append(f'    writes(["edits from the reads<br/>(recipe {_escape(recipe)})"])')
        lines.append("  end")
    if unknown:
        lines.append('  subgraph phase_unknown["unknown skill"]')
        lines += [f'    {ids[step.id]}["{_label(step)}"]' for step in unknown]
        lines.append("  end")
    for earlier, later in pairwise(boxes):
        lines.append(f"  {earlier} ==> {later}")
    for first, then in pairwise(phases.get(SkillKind.WRITE, [])):
        lines.append(f"  {ids[first.id]} --> {ids[then.id]}")
    for step in model.steps:
        lines += [f"  {ids[dep]} -.-> {ids[step.id]}" for dep in step.after if dep in ids]
    return "\n".join(lines) + "\n"


def _label(step: Step) -> str:
    return f"{_escape(step.id)}<br/><i>{_escape(step.skill)}</i>"


def _escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
