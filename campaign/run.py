"""Running a campaign: one plan over many repositories, on a server or on this machine.

::

    result = await run_campaign("rename.yaml", "repos.txt", server="http://localhost:2024")
    result.ok, result.summary(), result.markdown()

Without ``server`` the repositories run here through the library (``concurrency`` at a time);
with one, each is a background run on LangGraph's server, whose queue spreads them. Either way
the campaign is known by its id (by default a digest of the plan, the repositories and the
branch): running it again goes on with the repositories that have not ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegraph.campaign.model import (
    BRANCH_PREFIX,
    Campaign,
    OnChange,
    RepoEntry,
    RepoOutcome,
    campaign_id_of,
    check_campaign_id,
)
from phasegraph.campaign.repos import load_repos, parse_repos
from phasegraph.campaign.summary import all_ok, summary_data, summary_markdown
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.plan import Plan, load_plan, parse_plan
from phasegraph.skills.core.errors import InputRefused
from phasegraph.skills.guards.gitremote import valid_branch

#: A plan as a model, a mapping, or a YAML/JSON file.
PlanSource = Plan | Mapping[str, Any] | str | Path
#: Repositories as a ``--repos`` file, or as entries (``RepoEntry``, mappings, URLs).
ReposSource = str | Path | Sequence[RepoEntry | Mapping[str, Any] | str]


@dataclass(frozen=True)
class CampaignResult:
    """How a campaign ended: each repository's outcome, in the campaign's order."""

    campaign: Campaign
    outcomes: list[RepoOutcome]

    @property
    def ok(self) -> bool:
        """Every repository pushed its change (or had none to make)."""
        return all_ok(self.outcomes)

    def summary(self) -> dict[str, Any]:
        """The summary as JSON data (see :func:`~phasegraph.campaign.summary.summary_data`)."""
        return summary_data(self.campaign.id, self.outcomes)

    def markdown(self) -> str:
        """The summary as markdown: a table, then the blocked repositories' new findings."""
        return summary_markdown(self.campaign.id, self.outcomes)


def make_campaign(
    plan: PlanSource,
    repos: ReposSource,
    *,
    campaign_id: str | None = None,
    branch: str | None = None,
) -> Campaign:
    """The campaign of ``plan`` over ``repos``: checked (a bad plan, repository or branch is a
    :class:`~phasegraph.PlanError` or :class:`~phasegraph.skills.core.errors.InputRefused`
    naming it), its id ``campaign_id`` or a digest, its branch ``branch`` or
    ``phasegraph/<id>``."""
    model = load_plan(plan) if isinstance(plan, str | Path) else parse_plan(plan)
    data = model.model_dump(mode="json")
    entries = load_repos(Path(repos)) if isinstance(repos, str | Path) else parse_repos(repos)
    if branch is not None and (why := valid_branch(branch)) is not None:
        raise InputRefused(f"--branch: {why}")
    try:
        cid = check_campaign_id(campaign_id or campaign_id_of(data, entries, branch))
    except ValueError as exc:
        raise InputRefused(str(exc)) from None
    return Campaign(id=cid, plan=data, repos=entries, branch=branch or BRANCH_PREFIX + cid)


async def run_campaign(
    plan: PlanSource,
    repos: ReposSource,
    *,
    server: str | None = None,
    campaign_id: str | None = None,
    branch: str | None = None,
    concurrency: int = 2,
    on_change: OnChange | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    options: RunOptions | None = None,
    poll: float = 1.0,
) -> CampaignResult:
    """Run ``plan`` over ``repos`` to the end of every repository's run.

    Args:
        plan: the plan (a :class:`~phasegraph.Plan`, a mapping or a plan file).
        repos: a ``--repos`` file (text ``URL [REF]`` lines, or a YAML/JSON list of
            ``{repo, ref, push}``), or the entries themselves.
        server: a LangGraph server's URL: each repository a background run there (the
            server's owner lists the remotes it may clone); ``None``: here, through
            :func:`~phasegraph.graph.run.run_remote` (this process's environment lists them).
        campaign_id: the campaign's id (default: a digest of plan, repositories and branch).
        branch: the branch each commit is pushed to (default ``phasegraph/<id>``).
        concurrency: runs at once on this machine (a server's queue sets its own).
        on_change: told of each change of a repository's outcome (a live table).
        token: the server's bearer token (default: ``PHASEGRAPH_SERVER_TOKEN``).
        headers: more headers for the server (a deployment's own authentication).
        options: the runs' options (served: their context, held to the server's limits).
        poll: seconds between two looks at the server's threads.
    """
    # Files read and git asked (each push branch checked): off the event loop.
    campaign = await asyncio.to_thread(
        make_campaign, plan, repos, campaign_id=campaign_id, branch=branch
    )
    return await run_made(
        campaign,
        server=server,
        concurrency=concurrency,
        on_change=on_change,
        token=token,
        headers=headers,
        options=options,
        poll=poll,
    )


async def run_made(
    campaign: Campaign,
    *,
    server: str | None = None,
    concurrency: int = 2,
    on_change: OnChange | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    options: RunOptions | None = None,
    poll: float = 1.0,
) -> CampaignResult:
    """Run a campaign :func:`make_campaign` made (see :func:`run_campaign`)."""
    if server is not None:
        from phasegraph.campaign.served import run_campaign_served

        outcomes = await run_campaign_served(
            campaign,
            server,
            token=token,
            headers=headers,
            options=options,
            on_change=on_change,
            poll=poll,
        )
    else:
        from phasegraph.campaign.local import run_campaign_local

        outcomes = await run_campaign_local(
            campaign, concurrency=concurrency, on_change=on_change, options=options
        )
    return CampaignResult(campaign=campaign, outcomes=outcomes)
