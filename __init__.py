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
from phasegraph.graph.persistence import open_persistence
from phasegraph.graph.plan import (
    Plan,
    RecipeRef,
    Step,
    check_plan,
    load_plan,
    parse_plan,
    validate_plan,
)
from phasegraph.graph.report import Interpreter, ModelCalls, NewFinding, Report, StepReport, Usage
from phasegraph.graph.run import resume_run, run_plan, run_request
from phasegraph.graph.state import InputState, State
from phasegraph.graph.tool import as_tool
from phasegraph.graph.undo import UndoResult, undo_run
from phasegraph.recipes import Recipe, register_recipe
from phasegraph.skills.adapters import (
    register_tools,
    skill_as_tool,
    skill_from_tool,
    skills_as_tools,
)
from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.errors import (
    ModelError,
    PhasegraphError,
    PlanError,
    PreflightError,
    PromptError,
    PythonEnvError,
    RunPaused,
    SkillError,
    TransientHTTPStatus,
    UndoError,
    URLRefused,
    WorkspaceBusy,
    WorkspaceViolation,
)
from phasegraph.skills.mcp import load_mcp_skills
from phasegraph.skills.registry import SkillRegistry, default_registry

__all__ = [
    "InputState",
    "Interpreter",
    "ModelCalls",
    "ModelError",
    "NewFinding",
    "Orchestrator",
    "PathArg",
    "PhasegraphError",
    "Plan",
    "PlanError",
    "PreflightError",
    "PromptError",
    "PythonEnvError",
    "Recipe",
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
    "TransientHTTPStatus",
    "URLRefused",
    "UndoError",
    "UndoResult",
    "Usage",
    "WorkspaceBusy",
    "WorkspaceViolation",
    "as_tool",
    "build_orchestrator",
    "check_plan",
    "default_registry",
    "load_mcp_skills",
    "load_plan",
    "open_persistence",
    "parse_plan",
    "plan_mermaid",
    "register_recipe",
    "register_tools",
    "resume_run",
    "run_plan",
    "run_request",
    "skill_as_tool",
    "skill_from_tool",
    "skills_as_tools",
    "undo_run",
    "validate_plan",
]
