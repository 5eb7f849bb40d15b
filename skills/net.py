"""Fetch policy: which URLs a run may request, how long it waits, and what it retries."""

from __future__ import annotations

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

# Every request a skill makes (the first one and each redirect hop) goes through
# check_url(), so this module is the one place that decides where a run may
# connect. Blocking private, loopback and link-local targets (SSRF) belongs
# here too; it is not done yet and tracked as a later issue.

#: Schemes a skill may fetch.
ALLOWED_SCHEMES = frozenset({"http", "https"})
#: Redirect hops followed before giving up.
MAX_REDIRECTS = 5
#: Attempts per fetch, the first one included.
ATTEMPTS = 3
#: Sent with every request so servers can tell who is asking.
USER_AGENT = "phasegraph/0.1 (fetch_url)"


class TransientHTTPStatus(Exception):
    """A response whose status says "try again later" (429 or 5xx)."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"{url} answered {status} {reason}".rstrip())
        self.url = url
        self.status = status


class URLRefused(ValueError):
    """A URL the fetch policy does not allow."""


def check_url(url: str | httpx.URL) -> httpx.URL:
    """Parse ``url`` and return it if a skill may request it; raise :class:`URLRefused`."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise URLRefused(f"{str(url)!r} is not a valid URL ({exc})") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "no scheme"
        raise URLRefused(
            f"{str(url)!r} uses {scheme}; only http:// and https:// URLs can be fetched"
        )
    if not parsed.host:
        raise URLRefused(f"{str(url)!r} has no host; give a full http(s):// URL")
    return parsed


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying: 429 Too Many Requests and any 5xx."""
    return status == 429 or 500 <= status <= 599


def is_transient_error(exc: BaseException) -> bool:
    """Whether a failed attempt is worth retrying.

    Connection failures, timeouts, dropped connections and 429/5xx answers are;
    4xx answers, bad URLs and too many redirects are not.
    """
    if isinstance(exc, TransientHTTPStatus):
        return True
    if isinstance(exc, httpx.TooManyRedirects | httpx.UnsupportedProtocol):
        return False
    return isinstance(
        exc,
        httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError,
    )


def retrying(*, attempts: int = ATTEMPTS) -> AsyncRetrying:
    """The retry loop for one fetch: ``attempts`` tries, short exponential waits.

    Waits are 0.2 s then 0.4 s (capped at 2 s): enough for a blip or a
    restarting server, short enough to keep a run moving. The last error is
    re-raised as is.
    """
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.2, min=0.2, max=2),
        retry=retry_if_exception(is_transient_error),
        reraise=True,
    )


def client_timeout(total: float) -> httpx.Timeout:
    """Per-operation timeouts for a fetch that may take ``total`` seconds in all."""
    return httpx.Timeout(min(30.0, total), connect=min(10.0, total))


async def _check_request(request: httpx.Request) -> None:
    check_url(request.url)


def make_client(*, timeout: float) -> httpx.AsyncClient:
    """An HTTP client wired to the fetch policy: every hop checked, redirects capped."""
    return httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=client_timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [_check_request]},
    )
