"""MCP servers' tools as skills, through langchain-mcp-adapters (the ``mcp`` extra)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel

from phasegraph.skills.adapters import register_tools
from phasegraph.skills.base import Skill, SkillKind
from phasegraph.skills.registry import SkillRegistry

INSTALL_HINT = "MCP tools need langchain-mcp-adapters: pip install 'phasegraph[mcp]'"


async def load_mcp_skills(
    registry: SkillRegistry,
    connections: Mapping[str, Mapping[str, Any]],
    kinds: Mapping[str, SkillKind | str],
    *,
    path_args: Mapping[str, Sequence[str]] | None = None,
) -> list[Skill[BaseModel]]:
    """Register the MCP tools named in ``kinds`` (tool name → kind) on ``registry``.

    ``connections`` is langchain-mcp-adapters' mapping of server name to
    connection, e.g. ``{"notes": {"transport": "stdio", "command": "python",
    "args": ["server.py"]}}``. Tools the servers offer but ``kinds`` does not
    name are left out; a name no server offers is an error. ``path_args`` names,
    per tool, the arguments that are workspace paths (see
    :func:`phasegraph.skills.adapters.skill_from_tool`).

    Each call of a tool opens its own session (a stdio server is started for it),
    so the skills keep working after this returns and need no cleanup.
    """
    try:
        from langchain_mcp_adapters.client import MultiServerMCPClient
        from langchain_mcp_adapters.sessions import Connection
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(INSTALL_HINT) from exc
    client = MultiServerMCPClient(
        {name: cast(Connection, dict(conn)) for name, conn in connections.items()},
        # Errors reach the step as failures (the adapter checks each call's status).
        handle_tool_errors=True,
    )
    tools = await client.get_tools()
    return register_tools(registry, tools, kinds, path_args=path_args)
