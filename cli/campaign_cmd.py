"""``phasegraph campaign``: one plan over many repositories, with a live table and a summary."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rich.markup import escape

from phasegraph.campaign.model import Campaign, OnChange, RepoOutcome
from phasegraph.campaign.run import CampaignResult, make_campaign, run_made
from phasegraph.campaign.summary import summary_data, summary_markdown, undo_ok
from phasegraph.campaign.table import CampaignTable
from phasegraph.campaign.undo import undo_made
from phasegraph.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_STOPPED,
    Env,
)
from phasegraph.cli.interrupt import RunWatch, run_until_signal
from phasegraph.cli.output import print_line
from phasegraph.cli.run_cmd import add_step_arguments, options_from
from phasegraph.skills.core.errors import InputRefused
from phasegraph.skills.guards.workspace import atomic_write

T = TypeVar("T")

DESCRIPTION = """\
Run PLAN over every repository of --repos: each is cloned, changed, checked and, when its
checks pass, its commit is pushed to a new branch (--branch, default phasegraph/<campaign id>);
never to the branch it started from, never a force-push.

--repos FILE lists the repositories: a text file, one 'URL [REF]' a line (# comments; REF
defaults to the remote's HEAD), or YAML/JSON (.yaml, .yml, .json): a list of
{repo, ref, push}.

With --server URL, each repository is a background run on that LangGraph server (phasegraph's
langgraph.json served by a LangSmith Deployment, an Agent Server or `langgraph dev`): its queue
spreads them over its workers; its owner's settings say which remotes may be cloned
(PHASEGRAPH_REMOTES) and where (PHASEGRAPH_WORK_DIR). Its token: PHASEGRAPH_SERVER_TOKEN.
Without --server, they run here, --concurrency at a time, under this environment's settings.

The campaign is known by its id (--id, default a digest of the plan, the repositories and the
branch): running the same command again goes on with the repositories that have not ended.

--undo undoes the campaign named by the same PLAN, --repos, --id, --branch and --server: each
branch it pushed is deleted while it is still at the run's commit, or gets a revert pushed on
top when others built on it (their commits kept; never a force-push). The undo runs here, even
for a campaign on a server: this environment's PHASEGRAPH_REMOTES must list the remotes, and
git's credentials here must allow the push. Undone repositories are recorded: the undo run
again changes nothing, and the campaign run again under the same id does not start them again;
to make the change again, run it as a new campaign (another --id).

Exit status: 0 every repository pushed its change (or had nothing to change); with --undo,
every pushed branch was undone; 1 one or more was blocked by its checks, failed or refused
(with --undo: one or more is still pushed, or its run has not ended); 2 bad input (nothing
started).
"""


@dataclass
class CampaignWatch(RunWatch):
    """What an interrupted campaign says: how to go on with it."""

    server: str | None = None
    undo: bool = False

    def message(self, signum: int) -> str:
        name = signal.Signals(signum).name
        if self.undo:
            return (
                f"interrupted ({name}); the repositories undone so far are recorded: run the "
                f"same command again to undo the others (campaign {self.thread})"
            )
        if self.server:
            return (
                f"interrupted ({name}); the runs go on on {self.server}: run the same command "
                f"again to follow them (campaign {self.thread})"
            )
        return (
            f"interrupted ({name}); the repositories that ended are recorded: run the same "
            f"command again to go on with the others (campaign {self.thread})"
        )


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a header; write 'Name: value' (e.g. 'X-Api-Key: ...')"
        )
    return name.strip(), value.strip()


def _concurrency(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs, 1 or more")
    return int(text)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    campaign = sub.add_parser(
        "campaign",
        help="run a plan over many repositories (here, or on a LangGraph server)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    campaign.add_argument("plan", type=Path, help="plan file (YAML or JSON)")
    campaign.add_argument(
        "--repos", type=Path, required=True, metavar="FILE", help="the repositories (see above)"
    )
    campaign.add_argument(
        "--server", metavar="URL", help="a LangGraph server's URL (default: run here)"
    )
    campaign.add_argument(
        "--header",
        type=_header,
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header for the server's requests (repeat it; e.g. a deployment's API key)",
    )
    campaign.add_argument(
        "--id", dest="campaign_id", metavar="ID", help="the campaign's id (default: a digest)"
    )
    campaign.add_argument(
        "--branch", metavar="NAME", help="the new branch to push to (default: phasegraph/<id>)"
    )
    campaign.add_argument(
        "--concurrency",
        type=_concurrency,
        default=2,
        metavar="N",
        help="runs at once, without --server (default: 2; a server's queue sets its own)",
    )
    campaign.add_argument(
        "--strict", action="store_true", help="any check failure blocks, even one already there"
    )
    add_step_arguments(campaign, on_stop=False)  # a remote run's clone goes anyway
    campaign.add_argument(
        "--undo",
        action="store_true",
        help="undo the campaign: delete each branch it pushed, or push a revert (see above)",
    )
    campaign.add_argument(
        "--summary", type=Path, metavar="FILE.json", help="write the summary as JSON"
    )
    campaign.add_argument(
        "--markdown", type=Path, metavar="FILE.md", help="write the summary as markdown"
    )
    campaign.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines: each repository's change ({'event': 'repo', ...}), then the "
        "summary ({'event': 'campaign', ...})",
    )
    campaign.set_defaults(handler=campaign_command)


def campaign_command(args: argparse.Namespace, env: Env) -> int:
    try:
        campaign = make_campaign(
            args.plan, args.repos, campaign_id=args.campaign_id, branch=args.branch
        )
    except InputRefused as exc:
        env.err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_BAD_INPUT
    for path in (args.summary, args.markdown):
        if path is not None and not path.expanduser().absolute().parent.is_dir():
            env.err.print(f"[bold red]error:[/] {escape(str(path))}: no such folder")
            return EXIT_BAD_INPUT
    if args.undo:
        return _undo_command(campaign, args, env)
    where = f"on {args.server}" if args.server else f"here, {args.concurrency} at a time"
    env.err.print(
        f"campaign {campaign.id}: {len(campaign.repos)} repositories {where}, pushing to "
        f"{campaign.branch}",
        highlight=False,
        markup=False,
    )

    watch = CampaignWatch(thread=campaign.id, started=True, server=args.server)

    def go(on_change: OnChange) -> Coroutine[Any, Any, CampaignResult]:
        return run_made(
            campaign,
            server=args.server,
            concurrency=args.concurrency,
            on_change=on_change,
            headers=dict(args.header),
            options=options_from(args, args.strict),
        )

    try:
        result = _shown(go, campaign, watch, args, env, "campaign")
    except InputRefused as exc:
        env.err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_BAD_INPUT
    _write_summaries(result.summary(), result.markdown(), args)
    if args.json:
        print_line(json.dumps({"event": "campaign", **result.summary()}))
    else:
        env.out.print(result.markdown(), highlight=False, markup=False)
    return EXIT_OK if result.ok else EXIT_STOPPED


def _undo_command(campaign: Campaign, args: argparse.Namespace, env: Env) -> int:
    """``--undo``: undo every push of ``campaign``, with the same table and summaries."""
    where = f"run on {args.server}" if args.server else "run here"
    env.err.print(
        f"undo of campaign {campaign.id} ({len(campaign.repos)} repositories, {where}): each "
        f"branch it pushed deleted, or reverted where others built on it",
        highlight=False,
        markup=False,
    )

    watch = CampaignWatch(thread=campaign.id, started=True, server=args.server, undo=True)

    def go(on_change: OnChange) -> Coroutine[Any, Any, list[RepoOutcome]]:
        return undo_made(
            campaign, server=args.server, headers=dict(args.header), on_change=on_change
        )

    try:
        outcomes = _shown(go, campaign, watch, args, env, "undo")
    except InputRefused as exc:
        env.err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_BAD_INPUT
    summary = summary_data(campaign.id, outcomes, undo=True)
    markdown = summary_markdown(campaign.id, outcomes, undo=True)
    _write_summaries(summary, markdown, args)
    if args.json:
        print_line(json.dumps({"event": "undo", **summary}))
    else:
        env.out.print(markdown, highlight=False, markup=False)
    return EXIT_OK if undo_ok(outcomes) else EXIT_STOPPED


def _shown(
    go: Callable[[OnChange], Coroutine[Any, Any, T]],
    campaign: Campaign,
    watch: CampaignWatch,
    args: argparse.Namespace,
    env: Env,
    title: str,
) -> T:
    """``go(on_change)`` run to its end, each repository's change shown as it happens: in
    the live table, or (``--json``) as a JSON line."""

    def as_json(outcome: RepoOutcome) -> None:
        print_line(json.dumps({"event": "repo", **outcome.model_dump(mode="json")}))

    if args.json:
        return run_until_signal(go(as_json), watch, env.err)
    table = CampaignTable(env.out, [entry.repo for entry in campaign.repos], title=title)
    with table:
        return run_until_signal(go(table.update), watch, env.err)


def _write_summaries(summary: dict[str, Any], markdown: str, args: argparse.Namespace) -> None:
    if args.summary is not None:
        text = json.dumps(summary, indent=2) + "\n"
        atomic_write(args.summary.expanduser(), text.encode())
    if args.markdown is not None:
        atomic_write(args.markdown.expanduser(), markdown.encode())
