"""A campaign's end summary: JSON data with stable keys, and markdown for a person (a pull
request's description, a chat message): a table of every repository, then the blocked ones
with the findings their change introduced. The same for a campaign's undo, whose ``ok`` is
:func:`undo_ok` (no branch left pushed) instead of :func:`all_ok`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from phasegraph.campaign.model import OutcomeStatus, RepoOutcome
from phasegraph.skills.core.redact import redact, redact_data

#: Every outcome, in the order the summary counts them.
STATUSES: tuple[str, ...] = get_args(OutcomeStatus)
#: The findings a markdown summary lists per check, at most (the JSON keeps all).
SHOWN_FINDINGS = 20


def summary_data(
    campaign_id: str, outcomes: Sequence[RepoOutcome], *, undo: bool = False
) -> dict[str, Any]:
    """The summary as JSON data: ``campaign``, ``total``, ``counts`` (every outcome, zero
    included), ``ok`` (every repository pushed or had nothing to change; for an ``undo``:
    no branch is left pushed) and ``repos`` (each outcome, in the campaign's order)."""
    counts = dict.fromkeys(STATUSES, 0)
    for outcome in outcomes:
        counts[outcome.status] += 1
    data = {
        "campaign": campaign_id,
        "total": len(outcomes),
        "counts": counts,
        "ok": undo_ok(outcomes) if undo else all_ok(outcomes),
        "repos": [outcome.model_dump(mode="json") for outcome in outcomes],
    }
    redacted: dict[str, Any] = redact_data(data)
    return redacted


def all_ok(outcomes: Sequence[RepoOutcome]) -> bool:
    """Every repository pushed its change (or had none to make)."""
    return all(outcome.status in ("pushed", "unchanged") for outcome in outcomes)


def undo_ok(outcomes: Sequence[RepoOutcome]) -> bool:
    """A campaign's undo left no branch pushed, and no run still going that may push one."""
    return not any(outcome.status in ("pushed", "running") for outcome in outcomes)


def counts_line(outcomes: Sequence[RepoOutcome]) -> str:
    """``3 repositories: 2 pushed, 1 blocked``."""
    counts = summary_data("", outcomes)["counts"]
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    noun = "repository" if len(outcomes) == 1 else "repositories"
    return f"{len(outcomes)} {noun}: {', '.join(parts) or 'none'}"


def branch_or_reason(outcome: RepoOutcome) -> str:
    """What a row says after the outcome: the branch (and commit) pushed, or why not."""
    if outcome.status == "pushed":
        commit = f" at {outcome.commit[:12]}" if outcome.commit else ""
        why = f"; {outcome.reason}" if outcome.reason else ""  # an undo that failed says why
        return f"{outcome.branch}{commit}{why}"
    if outcome.status in ("pending", "running"):
        # A run the undo found still going says so.
        return "; ".join(part for part in (outcome.branch or "", outcome.reason) if part)
    at = f"step {outcome.step}: " if outcome.step and outcome.status == "failed" else ""
    return f"{at}{outcome.reason}"


def summary_markdown(
    campaign_id: str, outcomes: Sequence[RepoOutcome], *, undo: bool = False
) -> str:
    """The summary as markdown: the counts, a table (repository, outcome, branch or reason),
    then each blocked repository with its new findings, per check. ``undo``: titled as the
    campaign's undo."""
    lines = [
        f"# {'Undo of campaign' if undo else 'Campaign'} {campaign_id}",
        "",
        counts_line(outcomes) + ".",
        "",
        "| Repository | Outcome | Branch or reason |",
        "| --- | --- | --- |",
    ]
    for outcome in outcomes:
        cells = (outcome.repo, outcome.status, branch_or_reason(outcome))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    blocked = [o for o in outcomes if o.status == "blocked"]
    if blocked:
        lines += ["", "## Blocked: the new findings", ""]
        for outcome in blocked:
            lines += [f"### {_text(outcome.repo)}", ""]
            for check, found in outcome.new_findings.items():
                lines.append(f"- **{_text(check)}**")
                lines += [f"  - `{_code(f)}`" for f in found[:SHOWN_FINDINGS]]
                if len(found) > SHOWN_FINDINGS:
                    lines.append(f"  - … and {len(found) - SHOWN_FINDINGS} more (see the JSON)")
            lines.append("")
    return redact("\n".join(lines).rstrip() + "\n")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _text(text: str) -> str:
    return " ".join(text.split())


def _code(text: str) -> str:
    return _text(text).replace("`", "'")
