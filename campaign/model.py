"""A campaign's data: its plan and repositories, and each repository's outcome, read from
the report of its run (a library run's :class:`~phasegraph.Report`, a served run's output)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from phasegraph.graph.model.remote import CHECKOUT, REMOTE_ROWS
from phasegraph.graph.model.report import Report
from phasegraph.skills.core.text import clip, plural

#: Where a repository stands in a campaign. ``unchanged``: the run completed with nothing to
#: commit (the plan found nothing to change there), so nothing was pushed. ``undone``: it was
#: pushed, then the campaign's undo deleted its branch or pushed a revert onto it.
OutcomeStatus = Literal[
    "pending", "running", "pushed", "unchanged", "blocked", "failed", "refused", "undone"
]
#: The outcomes a repository keeps: a re-run of the campaign does not start it again (an
#: undone repository runs again only in a new campaign: another id).
ENDED: frozenset[str] = frozenset({"pushed", "unchanged", "blocked", "failed", "refused", "undone"})
#: The default branch a campaign pushes to, before its id.
BRANCH_PREFIX = "phasegraph/"
#: The longest reason a row gives (one line: the error says what to do, so it is kept long).
REASON_MAX = 800
#: What a campaign id may hold: it names a file, a branch and the server's thread metadata.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The namespace of the thread ids a campaign's runs get (uuid5 of campaign id and URL).
_THREADS = uuid.UUID("6f1c2a52-3f0e-5b7d-9c43-0b6a3d1e8f21")


class RepoEntry(BaseModel):
    """One repository of a campaign: its URL (the campaign's key for it), the ref its run
    starts from and the new branch its commit is pushed to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str = Field(min_length=1, description="The repository's git URL.")
    ref: str = Field(
        "HEAD",
        min_length=1,
        description="The branch, tag or commit the run starts from (default: the remote's "
        "HEAD, its default branch).",
    )
    push: str | None = Field(
        None, description="The new branch to push to (default: the campaign's branch)."
    )


class Campaign(BaseModel):
    """A plan to run over many repositories, known by its id (re-running it goes on)."""

    id: str
    plan: dict[str, Any] = Field(description="The plan, as JSON data (a Plan's model_dump).")
    repos: list[RepoEntry]
    branch: str = Field(
        description="The branch each repository's commit is pushed to, "
        "unless its entry names its own (default: phasegraph/<id>)."
    )

    def push_of(self, entry: RepoEntry) -> str:
        return entry.push or self.branch

    def thread_of(self, entry: RepoEntry) -> str:
        """The thread id of ``entry``'s run: the same each time the campaign runs."""
        return str(uuid.uuid5(_THREADS, f"{self.id}\n{entry.repo}"))


class RepoOutcome(BaseModel):
    """Where one repository of a campaign stands, or how it ended."""

    repo: str
    status: OutcomeStatus = "pending"
    phase: str = Field("", description="The phase of the step running (checkout, read, ...).")
    step: str = Field("", description="The step running, or the one that failed.")
    branch: str | None = Field(None, description="The branch pushed to (or to be).")
    commit: str | None = Field(None, description="The commit pushed.")
    reason: str = Field("", description="Why it did not push: one line.")
    new_findings: dict[str, list[str]] = Field(
        default_factory=dict, description="Blocked: per check, the findings the run introduced."
    )
    thread: str | None = None
    run_id: str | None = None
    undo: list[str] = Field(default_factory=list, description="Commands that undo the push.")

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def as_undone(self, account: str) -> RepoOutcome:
        """This pushed outcome once its push was undone; ``account`` says how (``deleted
        branch B``, ``pushed revert SHA onto B``...). Its branch and commit stay, as history;
        its undo commands go (done)."""
        update = {"status": "undone", "phase": "", "step": "", "reason": account, "undo": []}
        return self.model_copy(update=update)


#: Told of every change of a repository's outcome (a live table's ``update``).
OnChange = Callable[[RepoOutcome], None]


def where_of(row: Mapping[str, Any]) -> tuple[str, str]:
    """The (phase, step) a todo row or step event shows in a campaign's table: a remote run's
    own steps (``remote:checkout``...) as their phase alone, a baseline by its check."""
    step = str(row.get("id", ""))
    if step in REMOTE_ROWS:
        return step.partition(":")[2], ""
    phase = str(row.get("phase", ""))
    if phase == "baseline":  # a check's baseline row, ``baseline:<check>``
        step = step.removeprefix("baseline:")
    return phase, step


def running_where(steps: object) -> tuple[str, str]:
    """The (phase, step) of a run's todo list (``State.steps``): the step that started last
    among those running, else the one that ended last."""
    rows = (
        [r for r in steps.values() if isinstance(r, Mapping)] if isinstance(steps, Mapping) else []
    )
    running = [r for r in rows if r.get("status") == "running"]
    ended = [r for r in rows if r.get("ended_at")]
    if running:
        return where_of(max(running, key=lambda r: r.get("started_at") or 0))
    if ended:
        return where_of(max(ended, key=lambda r: r.get("ended_at") or 0))
    return "", ""


def check_campaign_id(given: str) -> str:
    """``given`` if it may name a campaign; ``ValueError`` naming the fix otherwise."""
    if not _ID.fullmatch(given) or ".." in given or given.endswith((".", ".lock")):
        raise ValueError(
            f"campaign id {given!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (it names a file, a branch and the server's threads)"
        )
    return given


def campaign_id_of(
    plan: Mapping[str, Any], repos: Sequence[RepoEntry], branch: str | None = None
) -> str:
    """A digest of the plan, the repositories and the branch given: running the same
    campaign again finds the same id, so it goes on where it was."""
    data = {
        "plan": plan,
        "repos": [entry.model_dump(mode="json") for entry in repos],
        "branch": branch,
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def outcome_of_report(
    repo: str, report: Report | Mapping[str, Any], *, branch: str | None = None
) -> RepoOutcome:
    """How ``repo`` ended, from its run's report (a :class:`Report` or its JSON data).

    ``pushed``: the report's ``remote.pushed``; ``blocked``: stopped at the gate with new
    findings; ``refused``: an input failure about the remote (not on the owner's list, a bad
    ref); ``unchanged``: completed with nothing to commit; ``failed``: any other stop, with
    the step.
    """
    data = report.model_dump(mode="json") if isinstance(report, Report) else dict(report)
    remote = data.get("remote") if isinstance(data.get("remote"), Mapping) else {}
    assert isinstance(remote, Mapping)
    findings = {
        str(check): [str(f.get("finding", "")) if isinstance(f, Mapping) else str(f) for f in found]
        for check, found in (data.get("new_findings") or {}).items()
        if found
    }
    step = str(data.get("failed_step") or "")
    kind = str(data.get("failure_kind") or "")
    error = str(data.get("error") or "")
    base = RepoOutcome(
        repo=repo,
        branch=str(remote.get("branch") or branch or "") or None,
        commit=remote.get("commit") or data.get("commit"),
        thread=data.get("thread"),
        run_id=data.get("run_id"),
        # A remote run's undo commands undo its push (the clone is gone with the run).
        undo=[str(c) for c in (remote.get("undo") or (data.get("undo") if remote else None) or [])],
        new_findings=findings,
    )
    if remote.get("pushed"):
        return base.model_copy(update={"status": "pushed"})
    if data.get("status") == "completed":
        if base.commit:
            why = f"the run committed {str(base.commit)[:12]} but did not push it"
            return base.model_copy(update={"status": "failed", "step": "push", "reason": why})
        return base.model_copy(
            update={"status": "unchanged", "reason": "completed with nothing to commit"}
        )
    if kind == "gate" and findings:
        checks = ", ".join(findings)
        count = sum(len(found) for found in findings.values())
        reason = f"blocked: {plural(count, 'new finding')} ({checks})"
        return base.model_copy(update={"status": "blocked", "step": step, "reason": reason})
    if kind == "input" and _about_the_remote(step, error, remote):
        return base.model_copy(
            update={
                "status": "refused",
                "step": step or CHECKOUT,
                "reason": clip(error, REASON_MAX),
            }
        )
    reason = clip(f"{kind or 'stopped'}: {error}" if error else kind or "stopped", REASON_MAX)
    return base.model_copy(update={"status": "failed", "step": step or kind, "reason": reason})


def outcome_of_served(
    repo: str, output: Mapping[str, Any] | None, *, branch: str | None = None
) -> RepoOutcome:
    """How ``repo`` ended, from a served run's output (``{"report": ..., "run_id", ...}``) or
    its thread's values (which hold the report too)."""
    report = (output or {}).get("report")
    if not isinstance(report, Mapping):
        return RepoOutcome(
            repo=repo,
            status="failed",
            branch=branch,
            reason="the server's run ended without a report; re-run the campaign to retry it",
        )
    return outcome_of_report(repo, report, branch=branch)


def _about_the_remote(step: str, error: str, remote: Mapping[str, Any]) -> bool:
    """Whether an input failure concerns the remote (its URL or ref), not the plan: a plan
    refused is the same for every repository, and is a failure, not a refusal."""
    shown = str(remote.get("repo") or "")
    return step == CHECKOUT or "PHASEGRAPH_REMOTES" in error or bool(shown and shown in error)
