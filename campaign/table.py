"""A campaign's live table: every repository, its phase and step, its branch or why not.

On a terminal, a rich table redrawn at each change (:class:`rich.live.Live`); anywhere else
(a pipe, a CI log), one plain line per change of a repository's row, in the order they
happen, so a log reads as the campaign went.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from phasegraph.campaign.model import RepoOutcome
from phasegraph.campaign.summary import branch_or_reason, counts_line

STYLES = {
    "pending": "dim",
    "running": "yellow",
    "pushed": "green",
    "unchanged": "green",
    "blocked": "bold red",
    "failed": "bold red",
    "refused": "magenta",
    "undone": "cyan",
}


class CampaignTable:
    """Shows a campaign's outcomes as they change; give it each change with :meth:`update`
    (it is the ``on_change`` of a campaign run) inside ``with``."""

    def __init__(
        self,
        console: Console,
        repos: Sequence[str],
        *,
        live: bool | None = None,
        title: str = "campaign",
    ):
        self.console = console
        self.title = title
        self.rows: dict[str, RepoOutcome] = {repo: RepoOutcome(repo=repo) for repo in repos}
        self.use_live = console.is_terminal if live is None else live
        self.live: Live | None = None
        #: Off a terminal: the last line printed per repository (a row unchanged is not
        #: printed again).
        self.printed: dict[str, str] = {}

    def __enter__(self) -> CampaignTable:
        if self.use_live:
            self.live = Live(self.table(), console=self.console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(None, None, None)
            self.live = None

    def update(self, outcome: RepoOutcome) -> None:
        """``outcome`` is the repository's row now."""
        self.rows[outcome.repo] = outcome
        if self.live is not None:
            self.live.update(self.table())
            return
        text = line(outcome)
        if self.printed.get(outcome.repo) != text:
            self.printed[outcome.repo] = text
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def table(self) -> Table:
        outcomes = list(self.rows.values())
        table = Table(title=self.title, caption=counts_line(outcomes), expand=False)
        for column in ("repository", "outcome", "phase", "step", "branch or reason"):
            table.add_column(column, overflow="fold")
        for outcome in outcomes:
            table.add_row(
                Text(outcome.repo),
                Text(outcome.status, style=STYLES.get(outcome.status, "")),
                Text(outcome.phase),
                Text(outcome.step),
                Text(branch_or_reason(outcome)),
            )
        return table


def line(outcome: RepoOutcome) -> str:
    """One repository's row as a plain line: ``URL  status  phase/step  branch``, or, once
    it ended, ``URL  status  branch or reason``."""
    where = "" if outcome.ended else "/".join(p for p in (outcome.phase, outcome.step) if p)
    parts = (outcome.repo, outcome.status, where, branch_or_reason(outcome))
    return "  ".join(part for part in parts if part)
