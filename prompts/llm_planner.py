"""The LLM planner: a request in plain words becomes a validated plan, in one model call."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.plan import Plan, Step, parse_plan
from phasegraph.graph.model.state import Failure, ModelUsage
from phasegraph.graph.preflight.acceptance import Preflighted, accept_plan
from phasegraph.graph.preflight.checks import Preflight
from phasegraph.prompts import load_prompt
from phasegraph.prompts.llm import Asking, Wanted, answer_or_failure
from phasegraph.skills.base import Skill, SkillKind
from phasegraph.skills.core.errors import PlanError
from phasegraph.skills.core.redact import fence_untrusted
from phasegraph.skills.guards.gitrepo import is_git_repo, run_git_sync
from phasegraph.skills.guards.procs import find_program
from phasegraph.skills.registry import SkillRegistry

#: Files listed to the planner, at most (the rest are counted).
MAX_LISTED_FILES = 300
#: Folders a plain walk (outside git) does not enter.
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "build", "dist"})


class PlanDraft(BaseModel):
    """The plan for the request: the steps phasegraph will run."""

    model_config = ConfigDict(title="plan")

    goal: str = Field(description="One line: what the run achieves.")
    steps: list[Step] = Field(description="The steps, in order.")
    unable: str | None = Field(
        None, description="Why the request cannot be done with these skills; null when it can."
    )


#: The planner's call: a plan, or why the request cannot be done.
PLAN_WANTED = Wanted(
    PlanDraft, kind="input", what="plan was", unable="the model could not plan the request"
)


@dataclass(frozen=True)
class Drafted:
    """What the model made of a request: a valid plan, or the failure that stops the run."""

    plan: Plan | None
    failure: Failure | None
    usage: ModelUsage
    #: The plan's preflight, taken as it was validated (so the planner need not repeat it).
    preflight: Preflight | None = None


def asking(opts: RunOptions) -> Asking:
    return Asking(retries=opts.retries, timeout=opts.model_timeout, attempts=opts.plan_attempts)


def skill_catalogue(registry: SkillRegistry, kinds: Iterable[SkillKind]) -> tuple[str, list[str]]:
    """The skills of ``kinds`` a prompt may offer, described from their args models.

    Returns the catalogue and the skills left out because a program they need
    is not installed (so the model does not plan a step preflight would refuse).
    """
    wanted = set(kinds)
    blocks, unavailable = [], []
    for skill in registry:
        if skill.kind not in wanted:
            continue
        missing = [p for p in skill.programs if find_program(p) is None]
        if missing:
            unavailable.append(f"{skill.name} ({', '.join(missing)} not installed)")
            continue
        blocks.append(describe_skill(skill))
    return "\n\n".join(blocks) + "\n", unavailable


def describe_skill(skill: Skill[Any]) -> str:
    """``skill`` for a prompt: name, kind, what it does and every argument, from its model."""
    schema = skill.args_model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    paths = set(skill.path_fields())
    lines = [f"### {skill.name} ({skill.kind.value})"]
    if skill.description:
        lines.append(skill.description)
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        lines.append("args: none")
    for name, prop in props.items():
        text = f"- `{name}`: {_type(prop, defs)}"
        if name in required:
            text += ", required"
        elif "default" in prop and prop["default"] not in (None, [], {}):
            text += f", default {json.dumps(prop['default'])}"
        else:
            text += ", optional"
        if name in paths:
            text += ", a path relative to the workspace"
        text += _constraints(prop)
        if prop.get("description"):
            text += f" — {prop['description']}"
        lines.append(text)
    return "\n".join(lines)


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _type(defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    return str(kind)


def _constraints(prop: dict[str, Any]) -> str:
    found = []
    if prop.get("minLength") == 1:
        found.append("not empty")
    elif "minLength" in prop:
        found.append(f"at least {prop['minLength']} characters")
    names = {
        "maxLength": "at most {} characters",
        "minimum": "≥ {}",
        "exclusiveMinimum": "> {}",
        "maximum": "≤ {}",
        "exclusiveMaximum": "< {}",
        "pattern": "matching {}",
    }
    found += [text.format(prop[key]) for key, text in names.items() if key in prop]
    return f" ({', '.join(found)})" if found else ""


def list_files(root: Path) -> list[str]:
    """The workspace's files, workspace-relative: git's view in a repository, else a walk."""
    if find_program("git") is not None and is_git_repo(root):
        proc = run_git_sync(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        if proc.returncode == 0:
            return sorted({p for p in proc.stdout.split("\0") if p})
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        base = Path(current).relative_to(root)
        found += [(base / f).as_posix() for f in sorted(files) if not f.startswith(".")]
        if len(found) > 20 * MAX_LISTED_FILES:
            break
    return found


def describe_workspace(root: Path, files: list[str]) -> str:
    in_git = find_program("git") is not None and is_git_repo(root)
    shown = files[:MAX_LISTED_FILES]
    listed = f", the first {len(shown)} listed" if len(shown) < len(files) else ""
    facts = [
        "- git repository: " + ("yes" if in_git else "no, so a git_checkpoint step cannot run"),
        f"- {len(files)} file(s){listed}:",
    ]
    return (
        "\n".join(facts) + "\n\n" + fence_untrusted("\n".join(shown), "the workspace's file list")
    )


async def plan_from_request(
    model: BaseChatModel,
    registry: SkillRegistry,
    request: str,
    workspace: Path,
    opts: RunOptions,
) -> Drafted:
    """Ask ``model`` for the plan of ``request``; invalid plans go back with their problems.

    The plan is checked as a plan file would be (skills, args, dependencies,
    paths in ``workspace``) and preflighted (programs, git), by
    :func:`~phasegraph.graph.preflight.acceptance.accept_plan`, so a plan that
    comes back is one the run can start. Everything that touches the disk or
    runs git does so in a worker thread, never on the event loop.
    """
    how = asking(opts)
    # The catalogue looks for programs, the file list runs git: off the event loop.
    system = await asyncio.to_thread(planner_prompt, registry, workspace)

    passed: list[Preflight] = []  # the preflight of the plan that passed

    def validate(data: dict[str, Any]) -> Plan | str:
        steps, unable = draft_parts(data, "plan")
        if unable and not steps:
            return unable
        goal = str(data.get("goal") or "").strip() or " ".join(request.split())[:200]
        plan = parse_plan({"goal": goal, "steps": steps}, source="the plan")
        ready = Preflighted(opts.python, before_reads=True)
        passed.append(
            accept_plan(plan, registry, workspace, ready, rules=[_has_steps], repair=True)
        )
        return plan

    messages = [SystemMessage(content=system), HumanMessage(content=request)]
    plan, failure = await answer_or_failure(model, messages, validate, how, PLAN_WANTED)
    return Drafted(plan, failure, how.usage(), passed[-1] if plan is not None and passed else None)


def _has_steps(plan: Plan, registry: SkillRegistry) -> str | None:
    """A drafted plan does something, or its draft says why not (``unable``)."""
    return None if plan.steps else "plan: it has no steps; give the steps, or say why in 'unable'"


def planner_prompt(registry: SkillRegistry, workspace: Path) -> str:
    """The planner's system prompt: the skills this machine can run and the workspace's files.

    Blocking (it looks for programs and runs git): call it in a worker thread.
    """
    skills, unavailable = skill_catalogue(registry, SkillKind)
    return load_prompt(
        "planner",
        skills=skills,
        unavailable=(
            f"\nNot available on this machine: {'; '.join(unavailable)}.\n" if unavailable else ""
        ),
        workspace=describe_workspace(workspace, list_files(workspace)),
    )


def draft_parts(data: dict[str, Any], what: str) -> tuple[list[Any], str | None]:
    """The ``steps`` and ``unable`` of a model's answer, with a problem when they are malformed."""
    steps = data.get("steps", [])
    if steps is None:
        steps = []
    if not isinstance(steps, list):
        raise PlanError([f"{what}: 'steps' must be a list of steps"])
    unable = data.get("unable")
    return steps, (str(unable).strip() or None) if unable else None
