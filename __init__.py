"""phasegraph: plan, read in parallel, write one at a time, verify in parallel, commit.

The public API::

    from phasegraph import build_orchestrator, Plan, Step, RunOptions

    graph = build_orchestrator()
    result = await graph.ainvoke({"plan": plan.model_dump(), "workspace": "/repo"})
    result["report"]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasegraph.campaign.model import RepoOutcome
    from phasegraph.campaign.run import CampaignResult, run_campaign
    from phasegraph.campaign.undo import undo_campaign
    from phasegraph.graph.builder import Orchestrator, build_orchestrator
    from phasegraph.graph.durable.persistence import open_persistence
    from phasegraph.graph.durable.remote_undo import undo_remote_run
    from phasegraph.graph.durable.undo import UndoResult, undo_by_run_id, undo_run
    from phasegraph.graph.model.context import RunOptions
    from phasegraph.graph.model.plan import (
        Plan,
        RecipeRef,
        Step,
        check_plan,
        load_plan,
        parse_plan,
        validate_plan,
    )
    from phasegraph.graph.model.report import (
        Interpreter,
        ModelCalls,
        NewFinding,
        Report,
        StepReport,
        Usage,
    )
    from phasegraph.graph.model.state import InputState, State
    from phasegraph.graph.preflight.diagram import plan_mermaid
    from phasegraph.graph.run import resume_run, run_plan, run_remote, run_request
    from phasegraph.graph.tool import as_tool
    from phasegraph.graph.tool_schema import plan_json_schema
    from phasegraph.graph.undo_tool import as_undo_tool
    from phasegraph.recipes.base import Recipe
    from phasegraph.recipes.registry import RecipeRegistry, default_recipes, register_recipe
    from phasegraph.skills.adapters import (
        register_tools,
        skill_as_tool,
        skill_from_tool,
        skills_as_tools,
    )
    from phasegraph.skills.base import (
        PathArg,
        Skill,
        SkillArgs,
        SkillContext,
        SkillKind,
        SkillResult,
    )
    from phasegraph.skills.core.errors import (
        ModelError,
        PhasegraphError,
        PlanError,
        PreflightError,
        PromptError,
        PythonEnvError,
        RemoteError,
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

# What each name is imported from. The package imports lazily (PEP 562), so a command that
# needs little (``phasegraph skills``, ``--help``) does not pay for LangGraph and LangChain.
_EXPORTS = {
    "CampaignResult": "phasegraph.campaign.run",
    "RepoOutcome": "phasegraph.campaign.model",
    "run_campaign": "phasegraph.campaign.run",
    "undo_campaign": "phasegraph.campaign.undo",
    "undo_remote_run": "phasegraph.graph.durable.remote_undo",
    "Orchestrator": "phasegraph.graph.builder",
    "build_orchestrator": "phasegraph.graph.builder",
    "RunOptions": "phasegraph.graph.model.context",
    "plan_mermaid": "phasegraph.graph.preflight.diagram",
    "open_persistence": "phasegraph.graph.durable.persistence",
    "Plan": "phasegraph.graph.model.plan",
    "RecipeRef": "phasegraph.graph.model.plan",
    "Step": "phasegraph.graph.model.plan",
    "check_plan": "phasegraph.graph.model.plan",
    "load_plan": "phasegraph.graph.model.plan",
    "parse_plan": "phasegraph.graph.model.plan",
    "validate_plan": "phasegraph.graph.model.plan",
    "Interpreter": "phasegraph.graph.model.report",
    "ModelCalls": "phasegraph.graph.model.report",
    "NewFinding": "phasegraph.graph.model.report",
    "Report": "phasegraph.graph.model.report",
    "StepReport": "phasegraph.graph.model.report",
    "Usage": "phasegraph.graph.model.report",
    "resume_run": "phasegraph.graph.run",
    "run_plan": "phasegraph.graph.run",
    "run_remote": "phasegraph.graph.run",
    "run_request": "phasegraph.graph.run",
    "InputState": "phasegraph.graph.model.state",
    "State": "phasegraph.graph.model.state",
    "as_tool": "phasegraph.graph.tool",
    "plan_json_schema": "phasegraph.graph.tool_schema",
    "as_undo_tool": "phasegraph.graph.undo_tool",
    "UndoResult": "phasegraph.graph.durable.undo",
    "undo_run": "phasegraph.graph.durable.undo",
    "undo_by_run_id": "phasegraph.graph.durable.undo",
    "Recipe": "phasegraph.recipes.base",
    "RecipeRegistry": "phasegraph.recipes.registry",
    "default_recipes": "phasegraph.recipes.registry",
    "register_recipe": "phasegraph.recipes.registry",
    "register_tools": "phasegraph.skills.adapters",
    "skill_as_tool": "phasegraph.skills.adapters",
    "skill_from_tool": "phasegraph.skills.adapters",
    "skills_as_tools": "phasegraph.skills.adapters",
    "PathArg": "phasegraph.skills.base",
    "Skill": "phasegraph.skills.base",
    "SkillArgs": "phasegraph.skills.base",
    "SkillContext": "phasegraph.skills.base",
    "SkillKind": "phasegraph.skills.base",
    "SkillResult": "phasegraph.skills.base",
    "ModelError": "phasegraph.skills.core.errors",
    "PhasegraphError": "phasegraph.skills.core.errors",
    "PlanError": "phasegraph.skills.core.errors",
    "PreflightError": "phasegraph.skills.core.errors",
    "PromptError": "phasegraph.skills.core.errors",
    "PythonEnvError": "phasegraph.skills.core.errors",
    "RemoteError": "phasegraph.skills.core.errors",
    "RunPaused": "phasegraph.skills.core.errors",
    "SkillError": "phasegraph.skills.core.errors",
    "TransientHTTPStatus": "phasegraph.skills.core.errors",
    "UndoError": "phasegraph.skills.core.errors",
    "URLRefused": "phasegraph.skills.core.errors",
    "WorkspaceBusy": "phasegraph.skills.core.errors",
    "WorkspaceViolation": "phasegraph.skills.core.errors",
    "load_mcp_skills": "phasegraph.skills.mcp",
    "SkillRegistry": "phasegraph.skills.registry",
    "default_registry": "phasegraph.skills.registry",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'phasegraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "CampaignResult",
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
    "RecipeRegistry",
    "RemoteError",
    "RepoOutcome",
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
    "as_undo_tool",
    "build_orchestrator",
    "check_plan",
    "default_recipes",
    "default_registry",
    "load_mcp_skills",
    "load_plan",
    "open_persistence",
    "parse_plan",
    "plan_json_schema",
    "plan_mermaid",
    "register_recipe",
    "register_tools",
    "resume_run",
    "run_campaign",
    "run_plan",
    "run_remote",
    "run_request",
    "skill_as_tool",
    "skill_from_tool",
    "skills_as_tools",
    "undo_by_run_id",
    "undo_campaign",
    "undo_remote_run",
    "undo_run",
    "validate_plan",
]
