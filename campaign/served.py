"""A campaign on LangGraph's server (a LangSmith Deployment, a self-hosted Agent Server,
``langgraph dev``), through ``langgraph_sdk``: one background run per repository.

No scheduler of phasegraph's own: every run is created at once and the server's queue spreads
them over its workers. Each repository has its own thread, its id a digest of the campaign's
id and the URL, its metadata ``{"phasegraph_campaign": ID, "repo": URL}``, so running the
campaign again finds the same threads: a thread whose run ended with a report is kept, one
whose run is pending or running is waited for (the server resumes its runs after a restart),
and any other (no run yet, or one that raised or was interrupted without a report) gets a new
run, which resumes from the thread's checkpoint when it has one. The live table polls the
campaign's threads every ``poll`` seconds until every repository has ended.

The server authenticates the client: a bearer token (``PHASEGRAPH_SERVER_TOKEN``, sent as
``Authorization: Bearer ...``, the server's ``graph/auth.py``) or headers given.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Mapping
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from phasegraph.campaign.model import (
    Campaign,
    OnChange,
    RepoEntry,
    RepoOutcome,
    outcome_of_served,
    running_where,
)
from phasegraph.graph.model.context import RunOptions
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.core.redact import redact
from phasegraph.skills.core.text import clip

if TYPE_CHECKING:
    from langgraph_sdk.client import LangGraphClient

#: The graph a campaign's runs go to (``langgraph.json``).
GRAPH = "phasegraph"
#: The thread metadata key that names the campaign.
CAMPAIGN_KEY = "phasegraph_campaign"
#: The thread metadata key the campaign's undo sets on a repository it undid: its account.
UNDONE_KEY = "phasegraph_undone"
#: The client's environment variable holding the server's bearer token.
TOKEN_ENV = "PHASEGRAPH_SERVER_TOKEN"
#: Threads asked for per search request.
PAGE = 100

T = TypeVar("T")
#: What to do with a repository's thread when the campaign (re)starts.
Action = Literal["keep", "wait", "start", "resume"]


def connect(
    url: str, *, token: str | None = None, headers: Mapping[str, str] | None = None
) -> LangGraphClient:
    """A ``langgraph_sdk`` client of the server at ``url``, sending ``token`` (default: the
    environment's ``PHASEGRAPH_SERVER_TOKEN``) as a bearer token."""
    try:  # the SDK loads only for a served campaign
        from langgraph_sdk import get_client
    except ImportError as exc:
        raise PreflightError(
            f"a campaign on a server needs LangGraph's SDK ({exc}): "
            "pip install 'phasegraph[campaign]'"
        ) from None
    sent = dict(headers or {})
    token = token if token is not None else os.environ.get(TOKEN_ENV, "")
    if token and not any(name.lower() == "authorization" for name in sent):
        sent["Authorization"] = f"Bearer {token}"
    return get_client(url=url, headers=sent)


def run_input(campaign: Campaign, entry: RepoEntry) -> dict[str, Any]:
    """The input of ``entry``'s run: the repository, its ref and push branch, the plan."""
    return {
        "repo": entry.repo,
        "ref": entry.ref,
        "push": campaign.push_of(entry),
        "plan": campaign.plan,
    }


def context_of(options: RunOptions | None) -> dict[str, Any] | None:
    """The run's context: only the options set apart from their defaults, so the server's
    own limits apply to the rest."""
    if options is None:
        return None
    given = asdict(options)
    defaults = asdict(RunOptions())
    changed = {f.name: given[f.name] for f in fields(options) if given[f.name] != defaults[f.name]}
    return changed or None


def action_of(thread: Mapping[str, Any] | None, has_next: bool) -> Action:
    """What a re-started campaign does with a repository's thread (``None``: none yet), and
    ``has_next``: whether its state stopped before the end (a checkpoint to resume from)."""
    if thread is None:
        return "start"
    if thread.get("status") == "busy":
        return "wait"  # a run pending or running: the server goes on with it
    values = thread.get("values")
    if isinstance(values, Mapping) and isinstance(values.get("report"), Mapping):
        return "keep"
    # A thread with no state yet (just created) has no checkpoint to resume from.
    return "resume" if has_next and values else "start"


def row_of(campaign: Campaign, entry: RepoEntry, thread: Mapping[str, Any] | None) -> RepoOutcome:
    """``entry``'s row from its thread, as the server has it now. An idle thread without a
    report (whose run may still be queued) is ``pending``: :func:`settle` decides."""
    branch = campaign.push_of(entry)
    tid = campaign.thread_of(entry)
    base = RepoOutcome(repo=entry.repo, branch=branch, thread=tid)
    if thread is None:
        return base
    status = thread.get("status")
    raw = thread.get("values")
    values: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if status != "busy" and isinstance(values.get("report"), Mapping):
        outcome = outcome_of_served(entry.repo, values, branch=branch)
        undone = (thread.get("metadata") or {}).get(UNDONE_KEY)
        if outcome.status == "pushed" and isinstance(undone, str):
            outcome = outcome.as_undone(undone)  # its push undone since (campaign/undo.py)
        return outcome.model_copy(update={"thread": tid})
    if status == "busy":
        phase, step = running_where(values.get("steps"))
        return base.model_copy(update={"status": "running", "phase": phase, "step": step})
    if status in ("error", "interrupted"):
        why = "raised" if status == "error" else "was interrupted"
        error = thread.get("error")
        if isinstance(error, Mapping):  # the server's {"error": class, "message": ...}
            error = ": ".join(str(error[k]) for k in ("error", "message") if error.get(k))
        detail = f": {clip(redact(str(error)), 300)}" if error else ""
        reason = f"the server's run {why}{detail}; re-run the campaign to resume it"
        phase, step = running_where(values.get("steps"))
        return base.model_copy(
            update={"status": "failed", "phase": phase, "step": step, "reason": reason}
        )
    return base


async def settle(client: LangGraphClient, row: RepoOutcome) -> RepoOutcome:
    """A ``pending`` row's truth: still queued, or its run ended without a report."""
    if row.status != "pending" or row.thread is None:
        return row
    runs = await client.runs.list(row.thread, limit=1)
    if not runs or runs[0]["status"] in ("pending", "running"):
        return row
    reason = (
        f"the server's run ended ({runs[0]['status']}) without a report; re-run the campaign "
        "to retry it"
    )
    return row.model_copy(update={"status": "failed", "reason": reason})


async def run_campaign_served(
    campaign: Campaign,
    url: str,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    options: RunOptions | None = None,
    on_change: OnChange | None = None,
    poll: float = 1.0,
    patience: float = 60.0,
    client: LangGraphClient | None = None,
) -> list[RepoOutcome]:
    """Run ``campaign`` on the server at ``url`` (see the module's docstring); every
    repository's outcome once all ended, in the campaign's order.

    ``poll``: seconds between two looks at the threads; ``patience``: seconds the server may
    not answer (restarting) before :class:`PreflightError` says to re-run the command later
    (the runs go on on the server; nothing is lost).
    """
    own = client is None
    # A client loads its TLS certificates as it is made: off the event loop.
    if client is None:
        client = await asyncio.to_thread(connect, url, token=token, headers=headers)
    lg = client
    try:
        try:
            await _guarded(url, _start(lg, campaign, options))
        except _Unreachable as exc:
            raise PreflightError(
                f"cannot reach the server at {url} ({exc}): start it, or check --server"
            ) from None
        return await _follow(lg, campaign, url, on_change, poll, patience)
    finally:
        if own:
            await lg.aclose()


async def campaign_rows(lg: LangGraphClient, campaign: Campaign, url: str) -> list[RepoOutcome]:
    """Every repository's row as the server has it now, in the campaign's order (what the
    campaign's undo reads): a repository without a thread there is ``pending`` with no
    ``thread``. :class:`PreflightError` when the server does not answer."""
    rows: list[RepoOutcome] = []
    try:
        found = await _guarded(url, _threads(lg, campaign))
        for entry in campaign.repos:
            thread = found.get(campaign.thread_of(entry))
            row = row_of(campaign, entry, thread)
            if thread is None:
                rows.append(row.model_copy(update={"thread": None}))
            else:
                rows.append(await _guarded(url, settle(lg, row)))
        return rows
    except _Unreachable as exc:
        raise PreflightError(
            f"cannot reach the server at {url} ({exc}): start it, or check --server"
        ) from None


async def mark_undone(lg: LangGraphClient, url: str, row: RepoOutcome) -> None:
    """Tell ``row``'s thread that its push was undone (``row.reason`` says how), so the
    campaign's rows show it ``undone`` from now on."""
    if row.thread is None:
        return
    try:
        await _guarded(url, lg.threads.update(row.thread, metadata={UNDONE_KEY: row.reason}))
    except _Unreachable as exc:
        raise PreflightError(f"the server at {url} did not record it ({exc})") from None


async def _start(lg: LangGraphClient, campaign: Campaign, options: RunOptions | None) -> None:
    """Create the campaign's threads (those missing) and start the runs it still needs."""
    for entry in campaign.repos:
        await lg.threads.create(
            thread_id=campaign.thread_of(entry),
            metadata={CAMPAIGN_KEY: campaign.id, "repo": entry.repo},
            if_exists="do_nothing",
            graph_id=GRAPH,
        )
    found = await _threads(lg, campaign)
    from langgraph_sdk.errors import ConflictError

    context = context_of(options)
    for entry in campaign.repos:
        tid = campaign.thread_of(entry)
        thread = found.get(tid)
        has_next = False
        if action_of(thread, has_next=True) == "resume":  # it has state: from its checkpoint?
            state = await lg.threads.get_state(tid)
            has_next = bool(state.get("next"))
        action = action_of(thread, has_next)
        if action in ("keep", "wait"):
            continue
        # ConflictError: another run of the command started it first; this one waits too.
        with contextlib.suppress(ConflictError):
            await lg.runs.create(
                tid,
                GRAPH,
                input=run_input(campaign, entry) if action == "start" else None,
                context=context,
                multitask_strategy="reject",
            )


async def _follow(
    lg: LangGraphClient,
    campaign: Campaign,
    url: str,
    on_change: OnChange | None,
    poll: float,
    patience: float,
) -> list[RepoOutcome]:
    """Poll the campaign's threads, telling each row that changed, until every one ended."""
    shown: dict[str, RepoOutcome] = {}
    answered = time.monotonic()
    while True:
        try:
            found = await _guarded(url, _threads(lg, campaign))
            rows = [row_of(campaign, e, found.get(campaign.thread_of(e))) for e in campaign.repos]
            rows = [await _guarded(url, settle(lg, row)) for row in rows]
        except _Unreachable as exc:
            if time.monotonic() - answered > patience:
                raise PreflightError(
                    f"the server at {url} has not answered for {patience:g} s ({exc}); its runs "
                    "go on there: run the same campaign command again once it is back"
                ) from None
            await asyncio.sleep(poll)
            continue
        answered = time.monotonic()
        for row in rows:
            if shown.get(row.repo) != row:
                shown[row.repo] = row
                if on_change is not None:
                    on_change(row)
        if all(row.ended for row in rows):
            return rows
        await asyncio.sleep(poll)


async def _threads(lg: LangGraphClient, campaign: Campaign) -> dict[str, Mapping[str, Any]]:
    """The campaign's threads on the server, by id (every page)."""
    found: dict[str, Mapping[str, Any]] = {}
    offset = 0
    while True:
        page = await lg.threads.search(
            metadata={CAMPAIGN_KEY: campaign.id}, limit=PAGE, offset=offset
        )
        found.update({str(t["thread_id"]): t for t in page})
        if len(page) < PAGE:
            return found
        offset += PAGE


class _Unreachable(Exception):
    """The server did not answer (a connection refused or reset, a 5xx): it may be
    restarting."""


async def _guarded(url: str, call: Awaitable[T]) -> T:
    """``call``'s result; the server unreachable is :class:`_Unreachable`, any other refusal
    a :class:`PreflightError` naming the server, its answer and the fix."""
    import httpx
    from langgraph_sdk.errors import APIStatusError

    try:
        return await call
    except httpx.TransportError as exc:
        raise _Unreachable(f"{type(exc).__name__}: {exc}") from exc
    except APIStatusError as exc:
        if exc.status_code >= 500 or exc.status_code == 429:
            raise _Unreachable(f"{exc.status_code}: {clip(str(exc), 200)}") from exc
        answer = f"the server at {url} answered {exc.status_code}: {clip(redact(str(exc)), 300)}"
        if exc.status_code in (401, 403):
            raise PreflightError(
                f"{answer}; give its token in {TOKEN_ENV} (sent as 'Authorization: Bearer "
                "...') or the header it expects with --header"
            ) from None
        raise PreflightError(
            f"{answer}; check that it serves phasegraph's langgraph.json (graph {GRAPH!r}) "
            "and runs this version of phasegraph"
        ) from None
