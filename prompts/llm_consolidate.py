"""The LLM consolidator: the reads' findings become the writes, in one model call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.plan import Plan, Step, with_writes
from phasegraph.graph.model.state import Failure, ModelUsage
from phasegraph.graph.preflight.acceptance import ADDABLE, Preflighted, accept_plan, not_addable
from phasegraph.prompts import load_prompt
from phasegraph.prompts.llm import Wanted, answer_or_failure
from phasegraph.prompts.llm_planner import asking, draft_parts, skill_catalogue
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PlanError
from phasegraph.skills.core.redact import fence_untrusted
from phasegraph.skills.core.text import describe_errors
from phasegraph.skills.registry import SkillRegistry

#: What a consolidator may add: the reads are over by then.


class WritesDraft(BaseModel):
    """The steps that do the work, after the reads: writes, and any missing verifies and commit."""

    model_config = ConfigDict(title="writes")

    steps: list[Step] = Field(description="The new steps; writes run in this order.")
    unable: str | None = Field(
        None, description="Why the findings show the goal cannot be done; null when it can."
    )


#: The consolidator's call: the steps to add, or why the findings show the goal cannot be done.
WRITES_WANTED = Wanted(
    WritesDraft,
    kind="consolidate",
    what="writes were",
    unable="the model found the goal cannot be done",
    outcome="; nothing was written",
)


@dataclass(frozen=True)
class Consolidated:
    """What the model made of the findings: the steps to add, or the failure that stops the run."""

    steps: list[Step]
    failure: Failure | None
    usage: ModelUsage


@dataclass(frozen=True)
class ReadsShown:
    """The reads' outputs as the model sees them, and what was cut to fit the budget."""

    text: str
    cut: list[str]


def render_output(output: Mapping[str, Any]) -> str:
    """One read's stored output as text: multi-line strings verbatim, so blocks can be copied."""
    parts = [f"summary: {output.get('summary', '')}"]
    data = output.get("data") or {}
    for key, value in data.items():
        if isinstance(value, str) and "\n" in value:
            parts.append(f"{key}:\n{value}")
        elif isinstance(value, list) and value:
            parts.append(f"{key}:")
            parts += [f"  {json.dumps(item, ensure_ascii=False)}" for item in value]
        else:
            parts.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    findings = output.get("findings") or []
    if findings:
        parts.append("findings:")
        parts += [f"  {f}" for f in findings]
    return "\n".join(parts)


def allot(sizes: list[int], budget: int) -> list[int]:
    """Characters each of ``sizes`` may keep: a fair share, and what small ones leave over."""
    out = [0] * len(sizes)
    left, remaining = len(sizes), max(0, budget)
    for i in sorted(range(len(sizes)), key=lambda n: sizes[n]):
        out[i] = min(sizes[i], remaining // left)
        remaining -= out[i]
        left -= 1
    return out


def render_findings(
    plan: Plan, outputs: Mapping[str, Mapping[str, Any]], budget: int
) -> ReadsShown:
    """Every read's output, fenced as untrusted data, trimmed to ``budget`` characters in all."""
    reads = [s for s in plan.steps if s.id in outputs]
    bodies = [render_output(outputs[s.id]) for s in reads]
    keep = allot([len(b) for b in bodies], budget)
    blocks, cut = [], []
    for step, body, limit in zip(reads, bodies, keep, strict=True):
        shown = body
        if limit < len(body):
            shown = body[:limit]
            if "\n" in shown:
                shown = shown[: shown.rindex("\n") + 1]
            cut.append(
                f"read {step.id!r} ({step.skill}): {len(shown):,} of {len(body):,} characters "
                "shown, the rest cut"
            )
            shown += f"[… {len(body) - len(shown):,} more characters cut to fit the budget]\n"
        args = json.dumps(step.args, ensure_ascii=False)
        blocks.append(
            f"### read {step.id!r}: {step.skill} {args}\n\n"
            + fence_untrusted(shown, f"read step {step.id} ({step.skill})")
        )
    return ReadsShown("\n\n".join(blocks) or "(no read produced output)", cut)


async def writes_from_findings(
    model: BaseChatModel,
    registry: SkillRegistry,
    plan: Plan,
    outputs: Mapping[str, Mapping[str, Any]],
    workspace: Path,
    request: str | None,
    opts: RunOptions,
    earlier: Mapping[str, ModelUsage] | None = None,
) -> Consolidated:
    """Ask ``model`` for the steps after the reads; invalid ones go back with their problems.

    Besides the plan checks, every edit_block is tried in memory against the
    files as the earlier writes leave them, so a search text that is missing or
    not unique is sent back for a repair instead of stopping the run mid-way.
    ``earlier`` is the run's usage so far (the planner's): the same endpoint is asked
    the way it took then. Everything that touches the disk runs in a worker thread.
    """
    how = asking(opts)
    how.start_like(earlier or {}, model)
    # The catalogue looks for programs, the prompts are files: off the event loop.
    system, task = await asyncio.to_thread(
        consolidator_prompts, registry, plan, outputs, request, opts
    )

    def validate(data: dict[str, Any]) -> list[Step] | str:
        raw_steps, unable = draft_parts(data, "answer")
        if unable and not raw_steps:
            return unable
        added: list[Step] = []
        problems: list[str] = []
        for n, raw in enumerate(raw_steps, start=1):
            try:
                added.append(Step.model_validate(raw))
            except ValidationError as exc:
                ident = raw.get("id") if isinstance(raw, dict) else None
                problems += describe_errors(exc, f"step {ident!r}" if ident else f"step #{n}")
        # A skill unknown here is validation's to name (with the skills there are).
        problems += not_addable([step for step in added if step.skill in registry], registry)
        if problems:
            raise PlanError(problems)
        # The final plan validated, then preflighted: the machine, every write tried in memory.
        final = with_writes(plan, added, registry)
        ready = Preflighted(opts.python)
        accept_plan(final, registry, workspace, ready, rules=[_writes_if_commits], repair=True)
        return added

    messages = [SystemMessage(content=system), HumanMessage(content=task)]
    steps, failure = await answer_or_failure(model, messages, validate, how, WRITES_WANTED)
    return Consolidated(steps or [], failure, how.usage())


def consolidator_prompts(
    registry: SkillRegistry,
    plan: Plan,
    outputs: Mapping[str, Mapping[str, Any]],
    request: str | None,
    opts: RunOptions,
) -> tuple[str, str]:
    """The consolidator's system prompt and task: the skills it may add, the plan, the
    findings. Blocking (it looks for programs): call it in a worker thread."""
    skills, _ = skill_catalogue(registry, ADDABLE)
    findings = render_findings(plan, outputs, opts.findings_budget)
    task = load_prompt(
        "consolidate_task",
        goal=plan.goal,
        request=f"Request: {request}\n" if request and request.strip() != plan.goal else "",
        plan="\n".join(
            json.dumps(s.model_dump(mode="json"), ensure_ascii=False) for s in plan.steps
        ),
        findings=findings.text,
        cut=(
            "\nCut to fit the findings budget (RunOptions.findings_budget):\n"
            + "\n".join(f"- {c}" for c in findings.cut)
            + "\n"
            if findings.cut
            else ""
        ),
    )
    return load_prompt("consolidator", skills=skills), task


def _writes_if_commits(plan: Plan, registry: SkillRegistry) -> str | None:
    """A plan that commits writes something, or the model's answer says why not
    (``unable``)."""
    kinds = [k for s in plan.steps if (k := _kind(s, registry)) is not None]
    if SkillKind.COMMIT in kinds and SkillKind.WRITE not in kinds:
        return "the plan commits but has no write step: give the writes, or say why in 'unable'"
    return None


def _kind(step: Step, registry: SkillRegistry) -> SkillKind | None:
    skill = registry.get(step.skill)
    return skill.kind if skill else None
