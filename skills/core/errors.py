"""Every error phasegraph raises on purpose, in one hierarchy users can catch at any level.

::

    PhasegraphError                  anything phasegraph raises on purpose
    ├── PlanError                    the plan is invalid (``problems`` lists each, by step)
    ├── InputRefused                 a run's input or options are refused (a served client's)
    ├── PreflightError               the workspace or machine is not ready; nothing touched
    │   └── PythonEnvError           the project's interpreter cannot be found or run
    ├── SkillError                   a skill could not do its job (``transient``: retry it)
    │   ├── WorkspaceViolation       a path or target outside what a run may touch
    │   ├── URLRefused               a URL the fetch policy does not allow
    │   └── TransientHTTPStatus      a 429 or 5xx answer (always transient)
    ├── ModelError                   a chat model call failed (``transient``, ``status``)
    ├── RemoteError                  a git clone, fetch or push failed (``transient``)
    ├── PromptError                  a prompt is missing or asked with wrong variables
    ├── RunPaused                    the run waits for an answer (approval); resume it
    ├── WorkspaceBusy                another run holds the workspace
    └── UndoError                    the run cannot be undone safely

Each carries the step it concerns (when there is one) and a message that says what went
wrong, with what input, and what to do about it. A run that fails does not raise: it ends
in a report (``status: stopped``, ``failure_kind``, ``error``); these are for bad input and
for callers of the lower-level APIs.
"""

from __future__ import annotations


class PhasegraphError(Exception):
    """Base of every error phasegraph raises on purpose."""

    def __init__(self, message: str, *, step_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step_id = step_id

    def __str__(self) -> str:
        if self.step_id:
            return f"step {self.step_id!r}: {self.message}"
        return self.message


class PlanError(PhasegraphError):
    """A plan is invalid. ``problems`` lists every problem found, each naming its step."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the plan is invalid ({len(problems)} problem(s)):\n{lines}")


class InputRefused(PhasegraphError):
    """A run's input or options are refused before anything runs: a workspace or plan of the
    wrong shape, or a served client's context that would loosen a guard only the server's
    owner may loosen (the message names the option and the server's setting)."""


class PreflightError(PhasegraphError):
    """The workspace or the machine is not ready for the plan; nothing was touched."""


class PythonEnvError(PreflightError):
    """The interpreter a run was told to use (or found) cannot be used."""


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


class URLRefused(SkillError, ValueError):
    """A URL (or the address it leads to) the fetch policy does not allow."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class TransientHTTPStatus(SkillError):
    """A response whose status says "try again later" (429 or 5xx)."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"{url} answered {status} {reason}".rstrip(), transient=True)
        self.url = url
        self.status = status


class ModelError(PhasegraphError):
    """A model call failed: ``transient`` ones were retried (up to the limit) first.

    ``retry_after`` is how long the server asked to wait (its Retry-After header), if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class RemoteError(PhasegraphError):
    """A git clone, fetch or push against a remote failed; the message says what and the fix.

    ``transient`` marks a network hiccup worth retrying (a host that did not resolve, a
    connection reset, a timeout, an early EOF); a refused push or a missing commit is not.
    """

    def __init__(
        self, message: str, *, step_id: str | None = None, transient: bool = False
    ) -> None:
        super().__init__(message, step_id=step_id)
        self.transient = transient


class PromptError(PhasegraphError, ValueError):
    """A prompt was asked for with a missing or unknown variable, or does not exist."""


class RunPaused(PhasegraphError):
    """The run is waiting for an answer (e.g. approval of its writes); resume it to go on."""

    def __init__(self, thread_id: str, value: object) -> None:
        super().__init__(
            f"run {thread_id} is paused waiting for an answer; resume it with "
            f"resume_run(graph, {thread_id!r}, answer=...)"
        )
        self.thread_id = thread_id
        self.value = value


class WorkspaceBusy(PhasegraphError):
    """Another run holds the workspace."""


class UndoError(PhasegraphError):
    """The run cannot be undone safely; the message says why and what to do."""
