"""The run report: what happened, what failed and why, and how to undo it."""

from __future__ import annotations

import shlex
from typing import Any, Literal

from pydantic import BaseModel, Field

from phasegraph.graph.model.remote import CHECKOUT, PREPARE, PUSH
from phasegraph.graph.model.state import Failure, State, StepRecord, StructuredOutput, baseline_key
from phasegraph.skills.core.redact import redact_data
from phasegraph.skills.guards.gitremote import shown_url
from phasegraph.skills.guards.gitremote import undo_commands as remote_undo


class StepReport(BaseModel):
    id: str
    skill: str
    phase: str
    status: Literal["done", "failed", "skipped", "pending"]
    summary: str = ""
    duration: float | None = None


class ModelCalls(BaseModel):
    """Chat model calls and the tokens they used (from the model's usage metadata)."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class Usage(BaseModel):
    """What a run cost in model calls: per node (``planner``, ``consolidate``) and in total."""

    by_node: dict[str, ModelCalls] = Field(default_factory=dict)
    total: ModelCalls = Field(default_factory=ModelCalls)

    @classmethod
    def of(cls, state: State) -> Usage:
        by_node = {k: ModelCalls.model_validate(v) for k, v in state.get("usage", {}).items()}
        total = ModelCalls(
            **{f: sum(getattr(u, f) for u in by_node.values()) for f in ModelCalls.model_fields}
        )
        return cls(by_node=by_node, total=total)


class Interpreter(BaseModel):
    """The Python interpreter the run's checks used, and how it was found."""

    python: str = ""
    source: str = Field(
        "",
        description="--python, .venv, venv, VIRTUAL_ENV, uv, poetry, or phasegraph (its own: "
        "no project environment was found).",
    )
    version: str = ""


class RemoteReport(BaseModel):
    """Where a remote run came from and what it pushed."""

    repo: str = Field(description="The repository's URL (credentials never shown).")
    ref: str = Field(description="The branch, tag or commit the run started from.")
    base: str = Field(description="The commit that ref named when the run cloned it.")
    branch: str = Field(description="The new branch the run's commit goes to.")
    commit: str | None = Field(None, description="The commit the branch points to, once pushed.")
    pushed: bool = False


class NewFinding(BaseModel):
    """A finding the run introduced, with what it means (a failing test's assertion)."""

    finding: str
    detail: str = ""


class Report(BaseModel):
    """The JSON a run leaves behind (``phasegraph run --report FILE``)."""

    status: Literal["completed", "stopped"]
    goal: str = ""
    thread: str | None = Field(None, description="The run's thread id: resume, history, undo.")
    run_id: str | None = Field(
        None,
        description="The run's id: `phasegraph undo RUN_ID -w WORKSPACE` (or "
        "`undo_by_run_id`) undoes it, whether or not it had a checkpointer.",
    )
    commit: str | None = None
    failed_step: str | None = None
    failure_kind: str | None = None
    error: str | None = None
    steps: list[StepReport] = Field(default_factory=list)
    baselines: list[StepReport] = Field(
        default_factory=list,
        description="Each verify step's run on the untouched tree (phase 'baseline').",
    )
    interpreter: Interpreter = Field(
        default_factory=Interpreter, description="The interpreter the checks ran with."
    )
    new_findings: dict[str, list[NewFinding]] = Field(
        default_factory=dict,
        description="Per verify step, the findings the run introduced (these block the commit).",
    )
    written: list[str] = Field(default_factory=list)
    preexisting: dict[str, list[str]] = Field(
        default_factory=dict, description="Findings that were there before the run (not blocking)."
    )
    accepted: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per verify step, what it stopped checking that the plan accepted "
        "(accept_fewer_checks): tests that passed before and no longer run, changes to the "
        "checker's configuration.",
    )
    selections: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per targeted pytest check: every test file it ran (files, each with why "
        "in why), or why it ran the whole suite (fallback), and every file left out "
        "(left_out_files); never cut.",
    )
    diff: str = Field(
        "",
        description="What the run wrote, as a unified diff against the files as they were "
        "before it (its pre-images); clipped, with a note saying so, when long. Kept whether "
        "the tree was restored or not: the change that was tried.",
    )
    restored: bool = Field(
        False,
        description="The run stopped and the tree was put back exactly as it was before it "
        "(RunOptions.on_stop='restore'); nothing is left to undo.",
    )
    undo: list[str] = Field(
        default_factory=list,
        description="Commands that undo the run: git's, in a git repository; the CLI, whose "
        "runs it can undo itself, tells `phasegraph undo THREAD` instead (exact bytes from "
        "the pre-images the run kept, with or without git).",
    )
    usage: Usage = Field(default_factory=Usage, description="Chat model calls and tokens.")
    remote: RemoteReport | None = Field(
        None,
        description="A remote run (its input named a repo): the repository, base commit and "
        "the branch it pushed; its undo deletes that branch (or pushes a revert onto it).",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Left for a person to check: a recipe's matches it did not change, "
        "as 'not changed: file:line: why: the line'.",
    )
    structured_output: StructuredOutput | None = Field(
        None,
        description="How the model was asked for structured answers, the last way the "
        "endpoint took: json_schema, tool_calling, json_mode or text (None: no model call).",
    )


def build_report(state: State, status: Literal["completed", "stopped"]) -> Report:
    """The report of a run in ``state``; :func:`to_dict` gives it redacted, as it is kept."""
    failure = state.get("failure")
    rows = state.get("steps", {})
    # The plan as given when the planner refused it: it may be of any shape.
    given: object = state.get("plan")
    plan: dict[str, Any] = given if isinstance(given, dict) else {}
    listed = plan.get("steps")
    plan_steps = [
        s
        for s in (listed if isinstance(listed, list) else [])
        if isinstance(s, dict) and isinstance(s.get("id"), str)
    ]
    steps = [
        _step_report(row, failure, status)
        for step in plan_steps
        if (row := rows.get(step["id"])) is not None
    ]
    baselines = [
        _step_report(row, None, status)
        for step in plan_steps
        if (row := rows.get(baseline_key(step["id"]))) is not None
    ]
    written = list(state.get("written", []))
    commit = state.get("commit_sha")
    usage = dict(reversed(state.get("usage", {}).items()))  # the latest node's first
    remote = _remote_report(state)
    # A remote run's own steps: the clone and prepare before the plan's, the push after.
    before = [_step_report(rows[k], failure, status) for k in (CHECKOUT, PREPARE) if k in rows]
    after = [_step_report(rows[k], failure, status) for k in (PUSH,) if k in rows]
    undo = undo_commands(written, list(state.get("created", [])), commit, state.get("head"))
    if remote is not None:  # the clone is gone with the run: what is left is on the remote
        undo = remote_undo(remote.repo, remote.branch, remote.commit) if remote.commit else []
    return Report(
        status=status,
        goal=str(plan.get("goal") or state.get("request") or ""),
        run_id=state.get("run_id") or None,
        commit=commit,
        failed_step=failure["step"] if failure else None,
        failure_kind=failure["kind"] if failure else None,
        error=failure["error"] if failure else None,
        steps=[*before, *steps, *after],
        baselines=baselines,
        interpreter=Interpreter.model_validate(state.get("environment") or {}),
        new_findings={
            k: [NewFinding(finding=f, detail=v.get("details", {}).get(f, "")) for f in found]
            for k, v in state.get("verdicts", {}).items()
            if (found := v["introduced"])
        },
        written=written,
        preexisting={
            k: v["preexisting"] for k, v in state.get("verdicts", {}).items() if v["preexisting"]
        },
        accepted={
            k: v["accepted"] for k, v in state.get("verdicts", {}).items() if v.get("accepted")
        },
        selections={
            k: v["selection"] for k, v in state.get("verdicts", {}).items() if v.get("selection")
        },
        undo=undo,
        usage=Usage.of(state),
        remote=remote,
        notes=list(state.get("notes", [])),
        structured_output=next(
            (u["structured_output"] for u in usage.values() if "structured_output" in u), None
        ),
    )


def _remote_report(state: State) -> RemoteReport | None:
    remote = state.get("remote")
    if not remote:
        return None
    pushed = remote.get("pushed")
    return RemoteReport(
        repo=shown_url(remote["repo"]),
        ref=remote["ref"],
        base=remote["base"],
        branch=remote["push"],
        commit=pushed,
        pushed=bool(pushed),
    )


def _step_report(
    row: StepRecord, failure: Failure | None, status: Literal["completed", "stopped"]
) -> StepReport:
    st = row["status"]
    if st == "running":  # a report is final: a step that never finished did not happen
        st = "failed" if failure and failure.get("step") == row["id"] else "skipped"
    elif st == "pending" and status == "stopped":
        st = "skipped"
    duration = None
    if row["started_at"] is not None and row["ended_at"] is not None:
        duration = round(row["ended_at"] - row["started_at"], 3)
    return StepReport(
        id=row["id"],
        skill=row["skill"],
        phase=row["phase"],
        status=st,
        summary=row["summary"],
        duration=duration,
    )


def undo_commands(
    written: list[str], created: list[str], commit: str | None, head: str | None
) -> list[str]:
    """Shell commands that put the workspace back as it was before the run.

    Outside git (``head`` is None) there is no earlier version to go back to,
    so there are none.
    """
    if commit:
        return [f"git revert --no-edit {commit}"]
    if head is None:
        return []
    changed = [f for f in written if f not in created]
    out = []
    if changed:
        # Literal pathspecs: a file named '*.py' restores that file, not every match.
        out.append(
            f"git --literal-pathspecs restore --source={head} --worktree -- {_quoted(changed)}"
        )
    if created:
        out.append(f"rm -- {_quoted(created)}")
    return out


def _quoted(files: list[str]) -> str:
    return " ".join(shlex.quote(f) for f in files)


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data with secrets (tokens, keys, passwords) redacted: the one
    place a report is redacted, on its way into the state, the stream and every output."""
    data: dict[str, Any] = redact_data(report.model_dump(mode="json"))
    return data
