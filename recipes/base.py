"""What a recipe is: it writes a plan's steps, then turns the reads' findings into writes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from phasegraph.graph.plan import Step


class Recipe(ABC):
    """A deterministic planner + consolidator pair.

    ``steps`` gives the reads, verifies and commit before anything runs;
    ``consolidate`` gets every read's stored output (by step id) and returns
    the write steps, or raises :class:`phasegraph.PlanError` saying why it cannot.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    args_model: ClassVar[type[BaseModel]]

    @abstractmethod
    def steps(self, args: Mapping[str, Any]) -> list[Step]: ...

    @abstractmethod
    def consolidate(
        self,
        args: Mapping[str, Any],
        outputs: Mapping[str, Mapping[str, Any]],
        workspace: Path,
    ) -> list[Step]: ...
