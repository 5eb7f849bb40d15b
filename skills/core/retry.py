"""The one retry policy: which faults are worth another attempt, and how long to wait.

Every retry loop in phasegraph (a step's skill, a fetch, a chat model call, a git command
waiting for a lock) is built by :func:`retrying` and asks :func:`is_transient`. The loops
live where the fault happens, written with tenacity, rather than as LangGraph's
``RetryPolicy`` on ``add_node``: a node-level retry would re-run a whole fan-out branch or
the writer (events emitted twice, a write's journal entry taken again), and our nodes do
not raise — they end in a ``Failure`` the routes read — so there is nothing for a node
policy to catch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from phasegraph.skills.core.errors import ModelError, RemoteError, SkillError

#: Class names of SDK errors (OpenAI, Anthropic, ...) that mean "try again later".
TRANSIENT_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "ConnectError",
        "ConnectTimeout",
        "InternalServerError",
        "OverloadedError",
        "RateLimitError",
        "ReadTimeout",
        "RemoteProtocolError",
        "ServiceUnavailableError",
    }
)


def transient_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying: 408, 409, 425, 429 and any 5xx."""
    return status in (408, 409, 425, 429) or 500 <= status <= 599


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception (an SDK's, httpx's) carries, if any."""
    for value in (
        getattr(exc, "status_code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
    ):
        if isinstance(value, int):
            return value
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a failed attempt is worth another one.

    Yes: a phasegraph error marked ``transient`` that the layer below has not already
    retried, a timeout, a dropped or refused connection, a 429 or 5xx answer, an SDK's
    rate-limit or overload error. No: everything else (bad input, 4xx, too many redirects,
    a bug), which retrying cannot mend.
    """
    if isinstance(exc, SkillError | ModelError | RemoteError):
        return exc.transient and not getattr(exc, "retried", False)
    # An httpx error implies httpx is loaded: it is looked up, not imported (start-up time).
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TooManyRedirects | httpx.UnsupportedProtocol):
        return False
    if isinstance(exc, TimeoutError | ConnectionError) or (
        httpx is not None and isinstance(exc, httpx.TransportError)
    ):
        return True
    status = status_of(exc)
    if status is not None:
        return transient_status(status)
    return any(cls.__name__ in TRANSIENT_NAMES for cls in type(exc).__mro__)


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: ``first`` seconds, doubling, at most ``cap``; a server's
    Retry-After (a :class:`ModelError`'s ``retry_after``) makes it longer, never shorter."""

    first: float
    cap: float

    def __call__(self, state: RetryCallState) -> float:
        wait = min(self.cap, self.first * 2.0 ** (state.attempt_number - 1))
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", 0.0)
        return max(wait, float(hint) if isinstance(hint, int | float) else 0.0)


#: Skills and fetches: 0.2 s, 0.4 s, ... (5 s at most): enough for a blip, short enough to
#: keep a run moving.
TOOLS = Backoff(first=0.2, cap=5.0)
#: Chat model calls: 0.5 s, 1 s, ... (20 s at most), or what the server's Retry-After asks.
MODELS = Backoff(first=0.5, cap=20.0)
#: A git command waiting for another process's lock: 0.1 s, 0.2 s, ... (1 s at most).
LOCKS = Backoff(first=0.1, cap=1.0)
#: No wait: a model's answer sent back for repair is asked again at once.
IMMEDIATE = Backoff(first=0.0, cap=0.0)


def retrying(
    attempts: int,
    backoff: Backoff = TOOLS,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> AsyncRetrying:
    """A tenacity loop of at most ``attempts`` tries (the first included); the last error is
    re-raised as it is."""
    return AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=backoff,
        retry=retry_if_exception(retry_on),
        reraise=True,
    )
