"""phasegraph: plan, read in parallel, write one at a time, verify in parallel, commit.

The public API::

    from phasegraph import build_orchestrator, Plan, Step, RunOptions

    graph = build_orchestrator()
    result = await graph.ainvoke({"plan": plan.model_dump(), "workspace": "/repo"})
    result["report"]
"""

from phasegraph.graph.builder import Orchestrator, build_orchestrator
from phasegraph.graph.context import RunOptions
from phasegraph.graph.diagram import plan_mermaid
from phasegraph.graph.errors import GateFailed, PlanError, PreflightError, RunPaused
from phasegraph.graph.plan import Plan, RecipeRef, Step, check_plan, load_plan, validate_plan
from phasegraph.graph.report import ModelCalls, Report, StepReport, Usage
from phasegraph.graph.run import resume_run, run_plan, run_request
from phasegraph.graph.state import InputState, State
from phasegraph.graph.tool import as_tool
from phasegraph.skills.adapters import (
    register_tools,
    skill_as_tool,
    skill_from_tool,
    skills_as_tools,
)
from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.errors import PhasegraphError, SkillError, WorkspaceViolation
from phasegraph.skills.mcp import load_mcp_skills
from phasegraph.skills.registry import SkillRegistry, default_registry

__all__ = [
    "GateFailed",
    "InputState",
    "ModelCalls",
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
    "Usage",
    "WorkspaceViolation",
    "as_tool",
    "build_orchestrator",
    "check_plan",
    "default_registry",
    "load_mcp_skills",
    "load_plan",
    "plan_mermaid",
    "register_tools",
    "resume_run",
    "run_plan",
    "run_request",
    "skill_as_tool",
    "skill_from_tool",
    "skills_as_tools",
    "validate_plan",
]
