"""The exception hierarchy every user-facing failure in phasegraph belongs to."""

from __future__ import annotations


class PhasegraphError(Exception):
    """Base of every error phasegraph raises on purpose.

    Each carries the step it concerns (when there is one) and a message that
    says what went wrong and what to do about it.
    """

    def __init__(self, message: str, *, step_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step_id = step_id

    def __str__(self) -> str:
        if self.step_id:
            return f"step {self.step_id!r}: {self.message}"
        return self.message


class SkillError(PhasegraphError):
    """A skill could not do its job.

    ``transient`` marks faults worth retrying (a network blip, a locked git
    index); permanent ones (a search text that is not in the file) are not.
    ``retried`` says the skill already retried it itself, so the orchestrator
    does not multiply the attempts.
    """

    def __init__(
        self,
        message: str,
        *,
        step_id: str | None = None,
        transient: bool = False,
        retried: bool = False,
    ) -> None:
        super().__init__(message, step_id=step_id)
        self.transient = transient
        self.retried = retried


class WorkspaceViolation(SkillError):
    """A path or target falls outside what a run may touch."""
