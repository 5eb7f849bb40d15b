"""Plan acceptance: whether a plan is one a run may start, or go on with, asked in one place.

Four paths accept a plan: the planner node (a given plan or recipe), the LLM planner (a
model's draft, sent back until accepted), the LLM consolidator (the steps a model adds after
the reads) and the consolidation (the final plan, whoever added its writes). Each asks
:func:`accept_plan` the same two questions:

- is the plan right: its recipe's arguments fit the workspace
  (:func:`~phasegraph.recipes.check_recipe`, before the reads), then the plan itself against
  the registry and the workspace (:func:`~phasegraph.graph.model.plan.validate_plan`: skills,
  args, ids, dependencies, phases, paths), and the caller's own ``rules``;
- can it run here: a whole preflight (:class:`Preflighted`: the workspace, the programs, the
  interpreter, the repository, every write tried in memory), or, once preflight passed at
  planning, what the consolidation changed (:class:`WritesTried`: its writes tried in memory
  against the user's uncommitted files, the interpreter for the checks it added).

What stays each path's own is a parameter: which readiness, the caller's extra rules, whether
the workspace is yet to be resolved, and whether a refusal goes back to a model to repair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from phasegraph.graph.model.plan import Plan, Step, validate_plan
from phasegraph.graph.preflight.checks import Preflight, added_checks_problem, preflight
from phasegraph.graph.preflight.dry_run import dry_run_writes
from phasegraph.recipes import before_recipe_writes, check_recipe, expand_recipe
from phasegraph.recipes.registry import RecipeRegistry
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PlanError, PreflightError
from phasegraph.skills.registry import SkillRegistry

#: A caller's own rule on a plan: the problem it finds, or ``None``.
PlanRule = Callable[[Plan, SkillRegistry], str | None]


@dataclass(frozen=True)
class Preflighted:
    """Readiness by a whole preflight (:func:`~phasegraph.graph.preflight.checks.preflight`),
    for a plan a run has yet to start with, or a final plan a model wrote."""

    #: The project's interpreter, as ``RunOptions.python`` gives it.
    python: str | None = None
    #: The plan is accepted before the reads: its recipe's arguments are checked, and the
    #: writes the plan adds on top of its recipe's are left to the consolidation's dry run
    #: (the reads have yet to make the recipe's), their programs checked all the same
    #: (:func:`~phasegraph.recipes.before_recipe_writes`).
    before_reads: bool = False
    #: The workspace is a run's input, yet to be resolved: preflight, which resolves and vets
    #: it, comes first (its refusal wins), and the plan's paths are validated against the
    #: root it found. Otherwise the plan is validated first, sparing a wrong plan the
    #: machine's checks.
    resolve: bool = False
    #: The recipes a plan may name (``None``: the process-wide registry).
    recipes: RecipeRegistry | None = None


@dataclass(frozen=True)
class WritesTried:
    """Readiness of a final plan once preflight passed at planning: only what the
    consolidation changed, ``added``, is tried (nothing added, nothing tried)."""

    #: The steps the consolidation added to the plan.
    added: Sequence[Step]
    #: The user's uncommitted files at the start of the run, which no write may target.
    dirty: Sequence[str]
    #: The interpreter the run's checks use (the one preflight found).
    python: str | None = None


@overload
def accept_plan(
    plan: Plan,
    registry: SkillRegistry,
    workspace: str | Path,
    ready: Preflighted,
    *,
    rules: Sequence[PlanRule] = (),
    repair: bool = False,
) -> Preflight: ...


@overload
def accept_plan(
    plan: Plan, registry: SkillRegistry, workspace: str | Path, ready: WritesTried
) -> None: ...


def accept_plan(
    plan: Plan,
    registry: SkillRegistry,
    workspace: str | Path,
    ready: Preflighted | WritesTried,
    *,
    rules: Sequence[PlanRule] = (),
    repair: bool = False,
) -> Preflight | None:
    """Accept ``plan`` for a run in ``workspace``, or raise why not; the preflight it passed
    (``None`` with :class:`WritesTried`, which runs none). Blocking: a worker thread.

    Raises :class:`PlanError` when the plan is wrong, or when the writes ``ready`` tries
    would fail (:class:`WritesTried`), and :class:`PreflightError` when preflight refuses it
    or a check it added cannot run with the project's interpreter. ``repair``: the refusal
    goes back to a model to repair, so a preflight's is raised as a :class:`PlanError` too,
    its message the one problem.
    """
    try:
        if isinstance(ready, WritesTried):
            _validated(plan, registry, Path(workspace), rules, recipe=None)
            _writes_tried(plan, registry, Path(workspace), ready)
            return None
        if ready.resolve:
            found = _preflighted(plan, registry, workspace, ready)
            _validated(plan, registry, found.workspace, rules, recipe=ready)
            return found
        _validated(plan, registry, Path(workspace), rules, recipe=ready)
        return _preflighted(plan, registry, workspace, ready)
    except PreflightError as exc:
        if repair:
            raise PlanError([str(exc)]) from exc
        raise


def _validated(
    plan: Plan,
    registry: SkillRegistry,
    root: Path,
    rules: Sequence[PlanRule],
    *,
    recipe: Preflighted | None,
) -> None:
    """Raise :class:`PlanError` with every problem of ``plan``: its recipe's, alone when its
    arguments do not fit (before the reads), else the plan's and the ``rules``'."""
    if recipe is not None and recipe.before_reads:
        check_recipe(plan, root, recipes=recipe.recipes)
    problems = validate_plan(plan, registry, workspace=root)
    problems += [problem for rule in rules if (problem := rule(plan, registry))]
    if problems:
        raise PlanError(problems)


def _preflighted(
    plan: Plan, registry: SkillRegistry, workspace: str | Path, ready: Preflighted
) -> Preflight:
    """``plan``'s preflight: before the reads, without the writes it adds to its recipe's."""
    tried, programs = before_recipe_writes(plan, registry) if ready.before_reads else (plan, ())
    return preflight(tried, registry, workspace, python=ready.python, extra_programs=programs)


def _writes_tried(plan: Plan, registry: SkillRegistry, root: Path, ready: WritesTried) -> None:
    """The final ``plan``'s writes tried in memory (a bad one stops the run before any
    lands), then the interpreter for the checks the consolidation added that the plan did not
    have (preflight did not look for what they need)."""
    if not ready.added:
        return
    problems = dry_run_writes(plan, registry, root, ready.dirty)
    if problems:
        raise PlanError(problems)
    added = {step.id for step in ready.added}
    had = {step.skill for step in plan.steps if step.id not in added}
    new = [step.skill for step in ready.added if step.skill not in had]
    problem = added_checks_problem(plan, new, registry, root, ready.python)
    if problem:
        raise PreflightError(problem)


def accept_given_plan(
    plan: Plan,
    registry: SkillRegistry,
    workspace: str | Path,
    python: str | None,
    recipes: RecipeRegistry | None = None,
) -> tuple[Plan, Preflight]:
    """A plan given to a run (by its caller, not a model): its recipe expanded, then accepted
    before the reads, preflighted in the workspace it resolves first. The one acceptance of
    the planner node and of the CLI, which asks it before LangGraph is even imported.

    The writes a plan adds to its recipe apply on top of the recipe's, which the reads have
    yet to make: preflight checks their programs, and the consolidation tries them in
    memory with the recipe's (:func:`~phasegraph.recipes.added_writes`).
    """
    expanded = expand_recipe(plan, registry, recipes=recipes)
    ready = Preflighted(python, before_reads=True, resolve=True, recipes=recipes)
    return expanded, accept_plan(expanded, registry, workspace, ready)


#: What a consolidation may add to a plan once the reads are over.
ADDABLE = frozenset({SkillKind.WRITE, SkillKind.VERIFY, SkillKind.COMMIT})


def not_addable(added: Sequence[Step], registry: SkillRegistry) -> list[str]:
    """The problem of each step in ``added`` a consolidation may not add: a skill unknown
    here, or one of a phase that is over (a read). The one rule of the recipe and given
    consolidators and of the LLM consolidator."""
    problems: list[str] = []
    for step in added:
        skill = registry.get(step.skill)
        if skill is None:
            problems.append(
                f"step {step.id!r}: unknown skill {step.skill!r}; a consolidation adds "
                "write, verify and commit steps only"
            )
        elif skill.kind not in ADDABLE:
            problems.append(
                f"step {step.id!r}: {step.skill} is a {skill.kind.value} skill; the reads "
                "are over, so give only write, verify and commit steps"
            )
    return problems
