"""A campaign on this machine: each repository through :func:`~phasegraph.graph.run.run_remote`
(clone, the five phases, commit, push), a few at a time.

The embedded default for one machine, without a server: one graph for every run, built once
without a checkpointer (a repository whose run did not end is simply run again from its clone
the next time: its record says which ended, :mod:`phasegraph.campaign.record`), at most
``concurrency`` runs at once. Each repository's phase and step come from its run's step
events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phasegraph.campaign.model import (
    REASON_MAX,
    Campaign,
    OnChange,
    RepoEntry,
    RepoOutcome,
    outcome_of_report,
    where_of,
)
from phasegraph.campaign.record import CampaignRecord
from phasegraph.graph.builder import Orchestrator, build_orchestrator
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.remote import RemoteSettings
from phasegraph.graph.run import run_remote
from phasegraph.skills.core.redact import redact
from phasegraph.skills.core.text import clip


async def run_campaign_local(
    campaign: Campaign,
    *,
    concurrency: int = 2,
    graph: Orchestrator | None = None,
    on_change: OnChange | None = None,
    options: RunOptions | None = None,
    work_dir: Path | None = None,
) -> list[RepoOutcome]:
    """Run ``campaign`` here, ``concurrency`` repositories at a time; every repository's
    outcome, in the campaign's order.

    Repositories whose outcome the campaign's record (``<work dir>/campaigns/<id>.json``;
    the work directory is the owner's ``PHASEGRAPH_WORK_DIR``) holds are not run again.
    Which remotes may be cloned, and the prepare step, are this process's environment's
    (``PHASEGRAPH_REMOTES``, ``PHASEGRAPH_PREPARE``...), as for one remote run.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be 1 or more, not {concurrency}")
    if work_dir is None:  # the owner's setting (its default asks the disk for a tempdir)
        work_dir = (await asyncio.to_thread(RemoteSettings.from_env)).work_dir
    record = CampaignRecord(campaign, work_dir)
    ended = await record.load()
    outcomes = {
        entry.repo: ended.get(entry.repo)
        or RepoOutcome(repo=entry.repo, branch=campaign.push_of(entry))
        for entry in campaign.repos
    }

    def changed(outcome: RepoOutcome) -> None:
        outcomes[outcome.repo] = outcome
        if on_change is not None:
            on_change(outcome)

    for outcome in outcomes.values():
        changed(outcome)
    todo = [entry for entry in campaign.repos if not outcomes[entry.repo].ended]
    if todo:
        if graph is None:
            graph = await asyncio.to_thread(build_orchestrator)
        runner = _Runner(campaign, graph, options, changed)
        slots = asyncio.Semaphore(concurrency)

        async def one(entry: RepoEntry) -> None:
            async with slots:  # its end told before the next one starts
                final, reported = await runner.run(entry, outcomes[entry.repo])
                if reported:
                    await record.keep(final)
                changed(final)

        async with asyncio.TaskGroup() as group:
            for entry in todo:
                group.create_task(one(entry))
    return [outcomes[entry.repo] for entry in campaign.repos]


class _Runner:
    """Runs one repository of the campaign, telling each change of its row."""

    def __init__(
        self,
        campaign: Campaign,
        graph: Orchestrator,
        options: RunOptions | None,
        changed: OnChange,
    ) -> None:
        self.campaign = campaign
        self.graph = graph
        self.options = options
        self.changed = changed

    async def run(self, entry: RepoEntry, start: RepoOutcome) -> tuple[RepoOutcome, bool]:
        """The outcome of ``entry``'s run, and whether it came from a report: when the run
        raised, it is a failure the record does not keep (the next run tries again)."""
        branch = self.campaign.push_of(entry)
        current = start.model_copy(update={"status": "running", "phase": "", "step": ""})
        self.changed(current)

        def on_event(event: Mapping[str, Any]) -> None:
            nonlocal current
            if event.get("event") != "step" or event.get("status") != "running":
                return
            phase, step = where_of(event)
            if (phase, step) != (current.phase, current.step):
                current = current.model_copy(update={"phase": phase, "step": step})
                self.changed(current)

        try:
            report = await run_remote(
                self.graph,
                self.campaign.plan,
                repo=entry.repo,
                ref=entry.ref,
                push=branch,
                options=self.options,
                # A fresh thread (and so a fresh clone folder) for each attempt: without a
                # checkpointer nothing is resumed from an earlier one.
                thread_id=uuid.uuid4().hex,
                on_event=on_event,
            )
        except Exception as exc:  # one repository's crash is its own: the others go on
            why = redact(f"{type(exc).__name__}: {exc}")
            again = f"{why} (no report: the next run of the campaign tries it again)"
            failed = {"status": "failed", "reason": clip(again, REASON_MAX)}
            return current.model_copy(update=failed), False
        return outcome_of_report(entry.repo, report, branch=branch), True
