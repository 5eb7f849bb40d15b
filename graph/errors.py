"""Errors about plans and runs, in the same hierarchy as the skill errors."""

from __future__ import annotations

from phasegraph.skills.errors import PhasegraphError


class PlanError(PhasegraphError):
    """A plan is invalid. ``problems`` lists every problem found, each naming its step."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the plan is invalid ({len(problems)} problem(s)):\n{lines}")


class PreflightError(PhasegraphError):
    """The workspace or the machine is not ready for the plan; nothing was touched."""


class GateFailed(PhasegraphError):
    """The quality gate found failures the run introduced; nothing was committed."""


class RunPaused(PhasegraphError):
    """The run is waiting for an answer (e.g. approval of its writes); resume it to go on."""

    def __init__(self, thread_id: str, value: object) -> None:
        super().__init__(
            f"run {thread_id} is paused waiting for an answer; resume it with "
            f"resume_run(graph, {thread_id!r}, answer=...)"
        )
        self.thread_id = thread_id
        self.value = value
