"""fetch_url: GET a web page as text, with redirects, a size cap and retries for blips."""

from __future__ import annotations

import asyncio
import codecs
from dataclasses import dataclass

import httpx

from phasegraph.skills.base import Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.errors import SkillError
from phasegraph.skills.net import (
    ATTEMPTS,
    MAX_REDIRECTS,
    TransientHTTPStatus,
    URLRefused,
    check_url,
    is_transient_error,
    is_transient_status,
    make_client,
    retrying,
)


class FetchUrlArgs(SkillArgs):
    """Arguments of :func:`fetch_url`."""

    #: An absolute http:// or https:// URL.
    url: str


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
        if is_transient_status(response.status_code):
            raise TransientHTTPStatus(
                str(response.url), response.status_code, response.reason_phrase
            )
        if response.status_code >= 400:
            via = f" (redirected to {response.url})" if response.history else ""
            raise SkillError(
                f"GET {url}{via} answered {response.status_code} {response.reason_phrase}; "
                "check the URL, this is not retried"
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
    """GET ``args.url`` and return its body as text (capped at ``ctx.fetch_max_bytes``)."""
    try:
        check_url(args.url)
    except URLRefused as exc:
        raise SkillError(str(exc), step_id=ctx.step_id) from exc
    try:
        async with asyncio.timeout(ctx.timeout), make_client(timeout=ctx.timeout) as client:
            async for attempt in retrying():
                with attempt:
                    page = await _get(client, args.url, ctx.fetch_max_bytes)
    except SkillError as exc:
        raise SkillError(exc.message, step_id=ctx.step_id) from exc
    except URLRefused as exc:
        raise SkillError(
            f"GET {args.url} was redirected to a refused URL: {exc}", step_id=ctx.step_id
        ) from exc
    except httpx.TooManyRedirects as exc:
        raise SkillError(
            f"GET {args.url} redirected more than {MAX_REDIRECTS} times; "
            "fetch the final URL directly",
            step_id=ctx.step_id,
        ) from exc
    except TimeoutError as exc:
        raise SkillError(
            f"GET {args.url} did not finish within {ctx.timeout:g} s; "
            "the server is slow or the page is large, try again later",
            step_id=ctx.step_id,
            transient=True,
        ) from exc
    except (TransientHTTPStatus, httpx.HTTPError) as exc:
        transient = is_transient_error(exc)
        detail = str(exc) or type(exc).__name__
        if transient:
            message = f"GET {args.url} failed {ATTEMPTS} times, last: {detail}; try again later"
        else:
            message = f"GET {args.url} failed: {detail}"
        raise SkillError(
            message, step_id=ctx.step_id, transient=transient, retried=transient
        ) from exc

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
        summary=f"GET {_short(args.url)}: {page.status}, {len(page.body)} bytes of {kind}{cut}",
        data={
            "url": page.url,
            "status": page.status,
            "content_type": page.content_type,
            "text": text,
            "truncated": page.truncated,
        },
    )


def _short(url: str, limit: int = 100) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


SKILL = Skill(
    name="fetch_url",
    kind=SkillKind.READ,
    args_model=FetchUrlArgs,
    fn=fetch_url,
    description="GET an http(s) URL as text: redirects followed, size capped, blips retried",
)
