"""The undo of a campaign: each branch it pushed deleted, or reverted where others built on it.

::

    outcomes = await undo_campaign("rename.yaml", "repos.txt")  # a campaign run here
    outcomes = await undo_campaign("rename.yaml", "repos.txt", server="http://localhost:2024")

The campaign is named as :func:`~phasegraph.campaign.run.run_campaign` names it: the same
plan and repositories, and the same ``campaign_id`` and ``branch`` if it was given them. Each
repository it pushed, as its recorded outcome says (the campaign's record file
``<work dir>/campaigns/<id>.json`` for a campaign run here, its thread's report for one on a
server), is undone by :func:`~phasegraph.skills.guards.remote_undo.undo_push`:

- the branch still points at the run's commit (nobody built on it): the branch is deleted,
  atomically (a lease on that commit: a branch that moves meanwhile is not deleted);
- others pushed on top of it since: a revert of the run's commit is pushed onto the branch,
  fast-forward, so their commits stay. Never a force-push of anyone else's work.

Each undone repository becomes ``undone``, its ``reason`` what was done (``deleted branch B``,
``pushed revert SHA onto B``); one whose undo failed stays ``pushed``, its ``reason`` why. A
repository the campaign did not push (blocked, failed, refused, unchanged, never run) is left
as it is. The undone outcomes are recorded where the campaign's are (its record file; its
threads' metadata on a server), so running the undo again changes nothing, and running the
campaign again under the same id shows them ``undone`` and does not start them again: to make
the change again, run it as a new campaign (another ``--id``, which also gives it another
default branch).

The undo runs in this process, even for a campaign run on a server: git reaches each remote
from here, so this environment's ``PHASEGRAPH_REMOTES`` must list the remotes (as the server's
owner lists them there), and git's credentials here (a credential helper, an SSH agent) must
allow the push.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from phasegraph.campaign.model import REASON_MAX, Campaign, OnChange, RepoOutcome
from phasegraph.campaign.record import CampaignRecord
from phasegraph.campaign.run import PlanSource, ReposSource, make_campaign
from phasegraph.graph.model.remote import WORK_DIR_SETTING, RemoteSettings
from phasegraph.skills.core.errors import InputRefused, PhasegraphError
from phasegraph.skills.core.redact import redact
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.guards.remote_access import REMOTES, RemoteAccess
from phasegraph.skills.guards.remote_undo import undo_push

if TYPE_CHECKING:
    from langgraph_sdk.client import LangGraphClient

#: Repositories undone at once (each is a few git commands against its remote).
UNDO_CONCURRENCY = 4
#: Records an undone outcome where the campaign keeps its outcomes; the outcome as recorded.
Keep = Callable[[RepoOutcome], Awaitable[RepoOutcome]]


async def undo_campaign(
    plan: PlanSource,
    repos: ReposSource,
    *,
    server: str | None = None,
    campaign_id: str | None = None,
    branch: str | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    on_change: OnChange | None = None,
) -> list[RepoOutcome]:
    """Undo every push of the campaign of ``plan`` over ``repos`` (see the module's docstring);
    each repository's outcome afterwards, in the campaign's order.

    Args:
        plan, repos, campaign_id, branch: the campaign, named as
            :func:`~phasegraph.campaign.run.run_campaign` was given it.
        server: the LangGraph server the campaign ran on (``None``: it ran here, and its
            record is under this environment's ``PHASEGRAPH_WORK_DIR``).
        token, headers: the server's bearer token (default: ``PHASEGRAPH_SERVER_TOKEN``) and
            more headers for it.
        on_change: told of each change of a repository's outcome (a live table).

    Raises :class:`~phasegraph.skills.core.errors.InputRefused`, with nothing undone, when
    the campaign left no trace (no record here, no threads on the server) or a pushed
    remote is not listed in this environment's ``PHASEGRAPH_REMOTES``.
    """
    campaign = await asyncio.to_thread(
        make_campaign, plan, repos, campaign_id=campaign_id, branch=branch
    )
    return await undo_made(
        campaign, server=server, token=token, headers=headers, on_change=on_change
    )


async def undo_made(
    campaign: Campaign,
    *,
    server: str | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    on_change: OnChange | None = None,
    settings: RemoteSettings | None = None,
) -> list[RepoOutcome]:
    """Undo a campaign :func:`~phasegraph.campaign.run.make_campaign` made (see
    :func:`undo_campaign`); ``settings``: this machine's (default: its environment's)."""
    if settings is None:
        settings = await asyncio.to_thread(RemoteSettings.from_env)
    if server is None:
        return await _undo_local(campaign, settings, on_change)
    from phasegraph.campaign.served import connect

    # A client loads its TLS certificates as it is made: off the event loop.
    client = await asyncio.to_thread(connect, server, token=token, headers=headers)
    try:
        return await _undo_served(campaign, server, client, settings, on_change)
    finally:
        await client.aclose()


async def _undo_local(
    campaign: Campaign, settings: RemoteSettings, on_change: OnChange | None
) -> list[RepoOutcome]:
    """Undo a campaign run here: its pushes as its record has them, the undone recorded."""
    record = CampaignRecord(campaign, settings.work_dir)
    if not await asyncio.to_thread(record.path.is_file):
        raise InputRefused(
            f"undo of campaign {campaign.id}: it has no record here ({record.path}), so it "
            "pushed nothing from this machine; name the campaign as it ran (the same plan, "
            f"--repos, --id and --branch), under the {WORK_DIR_SETTING} it ran with, or "
            "give --server if it ran on a server; nothing was undone"
        )
    ended = await record.load()
    rows = [
        ended.get(entry.repo) or RepoOutcome(repo=entry.repo, branch=campaign.push_of(entry))
        for entry in campaign.repos
    ]

    async def keep(done: RepoOutcome) -> RepoOutcome:
        try:
            await record.keep(done)
        except OSError as exc:  # the remote is undone: say so, and that the record lags
            note = f"; not recorded in {record.path} ({exc}): the campaign still shows it pushed"
            return done.model_copy(update={"reason": clip(done.reason + note, REASON_MAX)})
        return done

    return await _undo_rows(campaign, rows, settings, keep, on_change, None)


async def _undo_served(
    campaign: Campaign,
    server: str,
    client: LangGraphClient,
    settings: RemoteSettings,
    on_change: OnChange | None,
) -> list[RepoOutcome]:
    """Undo a campaign run on ``server``: its pushes as its threads' reports have them, each
    undone one marked on its thread."""
    from phasegraph.campaign.served import campaign_rows, mark_undone

    rows = await campaign_rows(client, campaign, server)
    if all(row.thread is None for row in rows):
        raise InputRefused(
            f"undo of campaign {campaign.id}: the server at {server} has no thread of it; name "
            "the campaign as it ran (the same plan, --repos, --id and --branch), or leave out "
            "--server if it ran here; nothing was undone"
        )
    # A run still going may push after the undo: it is shown, and the undo is not complete.
    rows = [
        row.model_copy(
            update={"reason": "its run has not ended on the server: undo again once it has"}
        )
        if row.status == "running"
        else row
        for row in rows
    ]

    async def keep(done: RepoOutcome) -> RepoOutcome:
        try:
            await mark_undone(client, server, done)
        except PhasegraphError as exc:
            note = f"; {exc}: the campaign still shows it pushed"
            return done.model_copy(update={"reason": clip(done.reason + note, REASON_MAX)})
        return done

    return await _undo_rows(campaign, rows, settings, keep, on_change, server)


async def _undo_rows(
    campaign: Campaign,
    rows: Sequence[RepoOutcome],
    settings: RemoteSettings,
    keep: Keep,
    on_change: OnChange | None,
    server: str | None,
) -> list[RepoOutcome]:
    """Undo each pushed row, ``UNDO_CONCURRENCY`` at a time, telling each change; the rows
    afterwards, in their order."""
    current = {row.repo: row for row in rows}

    def changed(row: RepoOutcome) -> None:
        current[row.repo] = row
        if on_change is not None:
            on_change(row)

    pushed = [row for row in rows if row.status == "pushed"]
    _require_reachable(campaign, pushed, settings.access, server)
    for row in rows:
        changed(row)
    slots = asyncio.Semaphore(UNDO_CONCURRENCY)

    async def one(row: RepoOutcome) -> None:
        async with slots:
            undoing = {"status": "running", "phase": "undo", "step": "", "reason": ""}
            changed(row.model_copy(update=undoing))
            changed(await _undo_one(row, settings, keep))

    async with asyncio.TaskGroup() as group:
        for row in pushed:
            group.create_task(one(row))
    return [current[row.repo] for row in rows]


async def _undo_one(row: RepoOutcome, settings: RemoteSettings, keep: Keep) -> RepoOutcome:
    """``row`` (pushed) undone and recorded; or still pushed, its reason why not."""
    if not row.branch or not row.commit:
        why = "undo: its run recorded no pushed branch and commit; look at the remote and undo"
        return row.model_copy(update={"step": "undo", "reason": f"{why} it by hand"})
    try:
        account = await asyncio.to_thread(
            undo_push, row.repo, row.branch, row.commit, settings.access, workdir=settings.work_dir
        )
    except (PhasegraphError, OSError) as exc:  # one repository's failure is its own
        why = clip(redact(f"undo failed: {exc}"), REASON_MAX)
        return row.model_copy(update={"step": "undo", "reason": why})
    return await keep(row.as_undone(account))


def _require_reachable(
    campaign: Campaign, pushed: Sequence[RepoOutcome], access: RemoteAccess, server: str | None
) -> None:
    """:class:`InputRefused`, before anything is undone, when a pushed remote may not be
    reached from here (this environment's ``PHASEGRAPH_REMOTES``)."""
    refused = [why for row in pushed if (why := access.refusal(row.repo)) is not None]
    if not refused:
        return
    if server is not None:
        fix = (
            f"the undo runs here, not on the server ({server}): git pushes to each remote from "
            f"this machine, so list its remotes in this environment's {REMOTES}, as the "
            "server's owner lists them there"
        )
    else:
        fix = f"list them in {REMOTES} here, as when the campaign ran"
    more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
    raise InputRefused(
        f"undo of campaign {campaign.id}: {plural(len(refused), 'pushed remote')} may not be "
        f"reached from here: {refused[0]}{more}; {fix}; nothing was undone"
    )
