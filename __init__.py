"""phasegraph: plan, read in parallel, write one at a time, verify in parallel, commit.

The public API::

    from phasegraph import build_orchestrator, Plan, Step, RunOptions

    graph = build_orchestrator()
    result = await graph.ainvoke({"plan": plan.model_dump(), "workspace": "/repo"})
    result["report"]
"""

from phasegraph.graph.builder import Orchestrator, build_orchestrator
from phasegraph.graph.errors import GateFailed, PlanError, PreflightError, RunPaused
from phasegraph.graph.plan import Plan, RecipeRef, Step, check_plan, load_plan, validate_plan
from phasegraph.graph.report import Report, StepReport
from phasegraph.graph.run import resume_run, run_plan
from phasegraph.graph.state import InputState, RunOptions, State
from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.errors import PhasegraphError, SkillError, WorkspaceViolation
from phasegraph.skills.registry import SkillRegistry, default_registry

__all__ = [
    "GateFailed",
    "InputState",
    "Orchestrator",
    "PathArg",
    "PhasegraphError",
    "Plan",
    "PlanError",
    "PreflightError",
    "RecipeRef",
    "Report",
    "RunOptions",
    "RunPaused",
    "Skill",
    "SkillArgs",
    "SkillContext",
    "SkillError",
    "SkillKind",
    "SkillRegistry",
    "SkillResult",
    "State",
    "Step",
    "StepReport",
    "WorkspaceViolation",
    "build_orchestrator",
    "check_plan",
    "default_registry",
    "load_plan",
    "resume_run",
    "run_plan",
    "validate_plan",
]
