"""The plan model: steps, their skills and dependencies, and its validation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# typing_extensions' TypedDict, as the state's: pydantic can read it on Python < 3.12.
from typing_extensions import TypedDict

from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PlanError, WorkspaceViolation
from phasegraph.skills.core.text import describe_errors
from phasegraph.skills.guards.workspace import resolve_in_workspace, static_path_problem
from phasegraph.skills.python.env.discovery import unexpanded_problem
from phasegraph.skills.registry import SkillRegistry

STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$"


class PlanStep(TypedDict):
    """A :class:`Step` in its dict form (:meth:`Step.as_plan_step`), as the state's plan and the
    run store hold it: the keys of ``Step.model_dump()``, those with a default not required
    (a step built by hand may leave them out: read them with ``.get``)."""

    id: str
    skill: str
    args: NotRequired[dict[str, Any]]
    after: NotRequired[list[str]]


class Step(BaseModel):
    """One step of a plan: a skill applied to arguments, after other steps."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=STEP_ID_PATTERN, description="Unique id, e.g. 'find-usages'.")
    skill: str = Field(description="Name of a registered skill.")
    args: dict[str, Any] = Field(default_factory=dict, description="Validated by the skill.")
    after: list[str] = Field(default_factory=list, description="Ids this step depends on.")

    def as_plan_step(self) -> PlanStep:
        """This step as the state's plan holds it: ``model_dump()``, typed."""
        dumped = self.model_dump()
        return PlanStep(
            id=dumped["id"], skill=dumped["skill"], args=dumped["args"], after=dumped["after"]
        )


class RecipeRef(BaseModel):
    """A built-in recipe that writes the steps (and later the edits) itself."""

    model_config = ConfigDict(extra="forbid")

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    """What a run is to do: a goal and steps, a recipe that produces them, or both: a
    recipe and steps of the plan's own (the one manual fix a rename needs), whose writes run
    after the recipe's and before the checks."""

    model_config = ConfigDict(extra="forbid")

    goal: str = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    recipe: RecipeRef | None = Field(
        None,
        description="A built-in recipe that writes the steps; the plan's own steps join "
        "them, its own writes running after the recipe's edits.",
    )
    accept_fewer_checks: bool = Field(
        False,
        description="The plan means to check less than before: a test that passed may stop "
        "running (removed, skipped) and a checker's configuration may change. Off (the "
        "default), each of those is a new finding that blocks; on, each is listed in the "
        "report as accepted.",
    )
    python: str | None = Field(
        None,
        description="The project's interpreter (or virtualenv folder) the checks run with, "
        "relative to the workspace, taken literally (no '~' nor '$VARS'); default: found in "
        "the workspace.",
    )

    @field_validator("python")
    @classmethod
    def _python_inside(cls, value: str | None) -> str | None:
        """A plan names an interpreter in the workspace only (preflight checks it again,
        resolved); one elsewhere is the operator's ``--python`` (``RunOptions.python``)."""
        problem = None if value is None else unexpanded_problem(value) or static_path_problem(value)
        if problem:
            raise ValueError(
                f"{problem}; a plan names the project's interpreter inside the workspace "
                "(e.g. .venv/bin/python), any other one is given with --python "
                "(RunOptions.python)"
            )
        return value

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def load_plan(source: str | Path) -> Plan:
    """Read a plan from a YAML or JSON file, with an error that names the file."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([f"cannot read plan file {path}: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise PlanError(
            [f"plan file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"]
        ) from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PlanError(
            [f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"]
        ) from exc
    return parse_plan(raw, source=str(path))


def parse_plan(raw: object, *, source: str = "plan") -> Plan:
    """Turn a mapping into a :class:`Plan`, with pydantic errors rephrased per step."""
    if isinstance(raw, Plan):
        return raw
    if not isinstance(raw, Mapping):
        raise PlanError([f"{source} must be a mapping with 'goal' and 'steps'"])
    try:
        return Plan.model_validate(dict(raw))
    except ValidationError as exc:
        raise PlanError([_describe(err, raw) for err in exc.errors()]) from exc


def _describe(err: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    loc = list(err.get("loc", ()))
    where = "plan"
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = raw.get("steps") or []
        ident = (
            steps[loc[1]].get("id")
            if loc[1] < len(steps) and isinstance(steps[loc[1]], Mapping)
            else None
        )
        where = f"step {ident!r}" if ident else f"step #{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc)
    return f"{where}: {field + ': ' if field else ''}{err.get('msg', 'invalid')}"


def validate_plan(
    plan: Plan, registry: SkillRegistry, *, workspace: Path | None = None
) -> list[str]:
    """Every problem with ``plan`` against ``registry`` (and ``workspace`` if given).

    Checks: duplicate ids, unknown skills, bad args (each skill's own model),
    unknown or cyclic ``after``, a step depending on a step of a later phase,
    more than one commit step, paths outside the workspace.
    """
    problems: list[str] = []
    ids: set[str] = set()
    kinds: dict[str, SkillKind] = {}
    for step in plan.steps:
        if step.id in ids:
            problems.append(f"step {step.id!r}: duplicate id; every step needs its own id")
        ids.add(step.id)
        skill = registry.get(step.skill)
        if skill is None:
            known = ", ".join(s.name for s in registry)
            problems.append(f"step {step.id!r}: unknown skill {step.skill!r} (known: {known})")
            continue
        kinds[step.id] = skill.kind
        try:
            args = skill.parse_args(step.args)
        except ValidationError as exc:
            problems += describe_errors(exc, f"step {step.id!r}: bad args for {step.skill}")
            continue
        problems.extend(_path_problems(step.id, skill.path_fields(), args, workspace))
    for step in plan.steps:
        for dep in step.after:
            if dep == step.id:
                problems.append(f"step {step.id!r}: depends on itself")
            elif dep not in ids:
                problems.append(f"step {step.id!r}: 'after' names unknown step {dep!r}")
            elif step.id in kinds and dep in kinds and kinds[dep].order > kinds[step.id].order:
                problems.append(
                    f"step {step.id!r} ({kinds[step.id]}) depends on {dep!r} "
                    f"({kinds[dep]}), a later phase; phases run read → write → verify → commit"
                )
    position = {s.id: n for n, s in enumerate(plan.steps)}
    for step in plan.steps:
        for dep in step.after:
            both_writes = kinds.get(step.id) is kinds.get(dep) is SkillKind.WRITE
            if both_writes and position.get(dep, -1) > position[step.id]:
                problems.append(
                    f"step {step.id!r}: depends on write {dep!r}, listed after it; "
                    f"writes run in plan order, so list {dep!r} first"
                )
    cycle = _find_cycle(plan)
    if cycle:
        problems.append(f"steps {' → '.join(repr(c) for c in cycle)}: 'after' forms a cycle")
    commits = [s.id for s in plan.steps if kinds.get(s.id) is SkillKind.COMMIT]
    if len(commits) > 1:
        problems.append(f"steps {commits}: a plan makes at most one commit")
    return problems


def check_plan(plan: Plan, registry: SkillRegistry, *, workspace: Path | None = None) -> Plan:
    """:func:`validate_plan`, raising :class:`PlanError` when anything is wrong."""
    problems = validate_plan(plan, registry, workspace=workspace)
    if problems:
        raise PlanError(problems)
    return plan


def _path_problems(
    step_id: str, fields: list[str], args: BaseModel, workspace: Path | None
) -> list[str]:
    problems = []
    for name in fields:
        value = getattr(args, name)
        values = value if isinstance(value, list) else [value]
        for rel in values:
            if not isinstance(rel, str):
                continue
            problem = static_path_problem(rel)
            if problem is None and workspace is not None:
                try:
                    resolve_in_workspace(workspace, rel, step_id=step_id)
                except WorkspaceViolation as exc:
                    problem = exc.message
            if problem:
                problems.append(f"step {step_id!r}: {name}: {problem}")
    return problems


def _find_cycle(plan: Plan) -> list[str] | None:
    deps = {s.id: [d for d in s.after if d != s.id] for s in plan.steps}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state and (found := visit(node)):
            return found
    return None


def phase_order(step: Step, registry: SkillRegistry) -> int:
    """Where ``step``'s phase comes in a run: reads, writes, verifies, commit."""
    skill = registry.get(step.skill)
    return skill.kind.order if skill else 0


def with_writes(plan: Plan, writes: list[Step], registry: SkillRegistry) -> Plan:
    """``plan`` with ``writes`` placed after its reads and before its verifies; with a recipe,
    before the plan's own writes, which apply on top of the recipe's."""
    added = {id(step) for step in writes}

    def order(step: Step) -> tuple[int, bool]:
        own_write = plan.recipe is not None and id(step) not in added
        phase = phase_order(step, registry)
        return phase, own_write and phase == SkillKind.WRITE.order

    steps = sorted([*plan.steps, *writes], key=order)  # sorted() is stable: plan order holds
    return plan.model_copy(update={"steps": steps})
