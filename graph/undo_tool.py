"""Undo a run as a LangChain tool: an agent gives the ``run_id`` a report named, and the
workspace is put back exactly as it was before that run (its revert committed, if it had
committed), from the pre-images the run kept (:mod:`phasegraph.graph.durable.undo`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field, create_model

from phasegraph.graph.durable.undo import UndoResult, undo_by_run_id
from phasegraph.skills.adapters import describe_validation_error, run_sync_coroutine
from phasegraph.skills.core.errors import UndoError, WorkspaceBusy

UNDO_DESCRIPTION = (
    "Undo a phasegraph run: put back every file it wrote exactly as it was before it, and "
    "commit the revert if the run had committed. Give the run_id its report named. Refused "
    "(nothing changed) when a file it wrote was changed since: those changes are someone's."
)


def as_undo_tool(
    workspace: str | Path | None = None,
    *,
    name: str = "phasegraph_undo",
    description: str = UNDO_DESCRIPTION,
    force: bool = False,
) -> StructuredTool:
    """A tool that undoes a run by its ``run_id`` (the report's), for an agent that ran it
    through :func:`~phasegraph.graph.tool.as_tool` (or any run of the library or CLI).

    ``workspace`` pins the repository (the agent then cannot choose one); without it the
    agent names it. The content is what the undo did as JSON (``restored``, ``removed``,
    ``commit``: the revert, ``nothing_to_undo``), the artifact the :class:`UndoResult`. An
    undo that would overwrite changes made after the run is refused (status ``error``, the
    reason its content) unless the tool was made with ``force=True``: the agent cannot ask
    for it.

    Example::

        tools = [as_tool(workspace="/repo"), as_undo_tool("/repo")]
    """
    pinned = str(workspace) if workspace is not None else None

    async def undo(run_id: str, workspace: str | None = None) -> tuple[str, UndoResult]:
        where = pinned or workspace
        if not where:
            raise ToolException("give the workspace: the path of the repository the run was in")
        try:
            result = await undo_by_run_id(Path(where), run_id, force=force)
        except (UndoError, WorkspaceBusy) as exc:
            raise ToolException(f"run {run_id} was not undone: {exc}") from exc
        return json.dumps({"run_id": run_id, **asdict(result)}), result

    def undo_sync(run_id: str, workspace: str | None = None) -> tuple[str, UndoResult]:
        return run_sync_coroutine(lambda: undo(run_id, workspace))

    return StructuredTool.from_function(
        func=undo_sync,
        coroutine=undo,
        name=name,
        description=description,
        args_schema=_args_schema(pinned=pinned is not None),
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=describe_validation_error,
    )


def _args_schema(*, pinned: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "run_id": (str, Field(min_length=1, description="The run_id of the run's report.")),
    }
    if not pinned:
        fields["workspace"] = (str, Field(description="Path of the repository the run was in."))
    model: type[BaseModel] = create_model("PhasegraphUndo", **fields)
    model.__doc__ = "Which run to undo."
    return model
