"""fetch_url: GET a public web page as text, with redirects, size and time caps, and retries."""

from __future__ import annotations

import asyncio
import codecs
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from phasegraph.skills.base import Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError, TransientHTTPStatus, URLRefused
from phasegraph.skills.core.retry import is_transient, transient_status
from phasegraph.skills.core.text import clip

if TYPE_CHECKING:
    import httpx

#: Content types passed on besides ``text/*``: the structured text formats.
TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-ndjson",
        "application/graphql",
        "application/x-sh",
        "application/x-python",
    }
)


def is_text_type(content_type: str) -> bool:
    """Whether a response of ``content_type`` is text fetch_url passes on.

    ``text/*``, JSON, XML (and their ``+json``/``+xml`` kinds), JavaScript,
    YAML and TOML are; images, archives, PDFs and ``octet-stream`` are not. A
    response with no content type is judged by its bytes instead.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        return True
    return (
        media.startswith("text/")
        or media in TEXT_TYPES
        or media.endswith(("+json", "+xml", "+yaml"))
    )


class FetchUrlArgs(SkillArgs):
    """Arguments of :func:`fetch_url`."""

    #: An absolute http:// or https:// URL.
    url: str
    #: Seconds the whole fetch may take, retries and redirects included; never more than
    #: the run's own cap (``fetch_timeout``, 60 s) or the step timeout.
    timeout: float | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class _Page:
    url: str
    status: int
    content_type: str
    body: bytes
    encoding: str
    truncated: bool


async def _get(client: httpx.AsyncClient, url: str, max_bytes: int) -> _Page:
    """One attempt: stream the body, stopping once ``max_bytes`` have arrived."""
    async with client.stream("GET", url) as response:
        if transient_status(response.status_code):
            raise TransientHTTPStatus(
                str(response.url), response.status_code, response.reason_phrase
            )
        if response.status_code >= 400:
            via = f" (redirected to {response.url})" if response.history else ""
            raise SkillError(
                f"GET {url}{via} answered {response.status_code} {response.reason_phrase}; "
                "check the URL, this is not retried"
            )
        content_type = response.headers.get("content-type", "")
        if not is_text_type(content_type):
            # Refused on the headers: the body of an image or an archive is never read.
            raise SkillError(
                f"GET {url} returned binary content ({content_type}); "
                "fetch_url only returns text pages (text/*, JSON, XML, JavaScript, YAML)"
            )
        chunks: list[bytes] = []
        size = 0
        truncated = False
        async for chunk in response.aiter_bytes():
            room = max_bytes - size
            if len(chunk) > room:
                # Any byte past the cap means the page was cut; stop reading it.
                chunks.append(chunk[:room])
                size = max_bytes
                truncated = True
                break
            chunks.append(chunk)
            size += len(chunk)
        body = b"".join(chunks)
        return _Page(
            url=str(response.url),
            status=response.status_code,
            content_type=response.headers.get("content-type", ""),
            body=body,
            encoding=_encoding(response.charset_encoding),
            truncated=truncated,
        )


def _encoding(declared: str | None) -> str:
    if declared:
        try:
            return codecs.lookup(declared).name
        except LookupError:
            pass
    return "utf-8"


async def fetch_url(args: FetchUrlArgs, ctx: SkillContext) -> SkillResult:
    """GET ``args.url`` and return its body as text (capped at ``ctx.fetch_max_bytes``).

    Only public addresses are reached, at every hop, unless ``ctx.allow_hosts``
    names the host; the whole fetch, retries included, takes at most ``ctx.fetch_timeout``
    seconds (or ``args.timeout``, when shorter), and is not retried again past that.
    """
    # httpx and the guarded transport load on the first fetch, not with the skill registry:
    # ``phasegraph skills`` and every run without a fetch start ~0.1 s sooner.
    import httpx

    from phasegraph.skills.guards.net import (
        ATTEMPTS,
        MAX_REDIRECTS,
        AllowList,
        check_url,
        make_client,
        retrying_fetch,
    )

    try:
        check_url(args.url, AllowList.of(ctx.allow_hosts))
    except URLRefused as exc:
        raise SkillError(str(exc), step_id=ctx.step_id) from exc
    limit = min(ctx.timeout, ctx.fetch_timeout, args.timeout or ctx.fetch_timeout)
    try:
        async with (
            asyncio.timeout(limit),
            make_client(timeout=limit, allow_hosts=ctx.allow_hosts) as client,
        ):
            async for attempt in retrying_fetch():
                with attempt:
                    page = await _get(client, args.url, ctx.fetch_max_bytes)
    except URLRefused as exc:
        raise SkillError(f"GET {args.url} was refused: {exc}", step_id=ctx.step_id) from exc
    except httpx.TooManyRedirects as exc:
        raise SkillError(
            f"GET {args.url} redirected more than {MAX_REDIRECTS} times; "
            "fetch the final URL directly",
            step_id=ctx.step_id,
        ) from exc
    except TimeoutError as exc:
        # The cap is on the whole fetch, its own retries included: marked as retried
        # already, so the step's retries do not start it over (three 60 s caps were 180 s).
        raise SkillError(
            f"GET {args.url} did not finish within {limit:g} s (retries included); "
            "the server is slow or the page is large, try again later",
            step_id=ctx.step_id,
            transient=True,
            retried=True,
        ) from exc
    except (TransientHTTPStatus, httpx.HTTPError) as exc:
        transient = is_transient(exc)
        detail = str(exc) or type(exc).__name__
        if transient:
            message = f"GET {args.url} failed {ATTEMPTS} times, last: {detail}; try again later"
        else:
            message = f"GET {args.url} failed: {detail}"
        raise SkillError(
            message, step_id=ctx.step_id, transient=transient, retried=transient
        ) from exc
    except SkillError as exc:  # raised by _get itself (too large, bad content)
        raise SkillError(exc.message, step_id=ctx.step_id) from exc

    if b"\x00" in page.body:
        raise SkillError(
            f"GET {args.url} returned binary content ({page.content_type or 'no content type'});"
            " fetch_url only returns text pages",
            step_id=ctx.step_id,
        )
    text = page.body.decode(page.encoding, errors="replace")
    cut = " (truncated at the size cap)" if page.truncated else ""
    kind = page.content_type.split(";")[0].strip()[:40] or "no content type"
    return SkillResult(
        summary=f"GET {clip(args.url, 100)}: {page.status}, {len(page.body)} bytes of {kind}{cut}",
        data={
            "url": page.url,
            "status": page.status,
            "content_type": page.content_type,
            "text": text,
            "truncated": page.truncated,
        },
    )


SKILL = Skill(
    name="fetch_url",
    kind=SkillKind.READ,
    args_model=FetchUrlArgs,
    fn=fetch_url,
    description="GET an http(s) URL as text: redirects followed, size capped, blips retried",
)
