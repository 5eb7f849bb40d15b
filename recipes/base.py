"""What a recipe is: it writes a plan's steps, then turns the reads' findings into writes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from phasegraph.graph.model.plan import Step


class Writes(list[Step]):
    """A consolidator's steps, with notes for the report: what the recipe found and left
    alone, for a person to check (``file:line: why``)."""

    def __init__(self, steps: list[Step], notes: list[str] | None = None) -> None:
        super().__init__(steps)
        self.notes = list(notes or [])


class Recipe(ABC):
    """A deterministic planner + consolidator pair.

    ``steps`` gives the reads, verifies and commit before anything runs;
    ``consolidate`` gets every read's stored output (by step id) and returns
    the write steps (a :class:`Writes` to add notes for the report), or raises
    :class:`phasegraph.PlanError` saying why it cannot. A plan may add steps of its own
    beside the recipe's; its own writes run after the ones ``consolidate`` returns.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    args_model: ClassVar[type[BaseModel]]

    @abstractmethod
    def steps(self, args: Mapping[str, Any]) -> list[Step]: ...

    def check(self, args: Mapping[str, Any], workspace: Path) -> list[str]:
        """Problems with ``args`` that only the workspace shows (a file that is not there);
        ``phasegraph validate --workspace`` lists them. None by default."""
        return []

    @abstractmethod
    def consolidate(
        self,
        args: Mapping[str, Any],
        outputs: Mapping[str, Mapping[str, Any]],
        workspace: Path,
    ) -> list[Step]: ...
