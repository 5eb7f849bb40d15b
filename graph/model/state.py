"""The graph state: the plan, the todo list and short summaries — never large outputs."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, GetPydanticSchema, with_config

# typing_extensions' TypedDict: pydantic (and so LangGraph's server, Studio) can read it on
# Python < 3.12 and publish the input and state schemas, field docstrings as descriptions.
from typing_extensions import TypedDict

from phasegraph.graph.model.plan import Plan, PlanStep
from phasegraph.graph.model.remote import RemoteRun

_DOCUMENTED = ConfigDict(use_attribute_docstrings=True)

StepStatus = Literal["pending", "running", "done", "failed", "skipped"]
FailureKind = Literal[
    "input",
    "preflight",
    "skill",
    "verify",
    "gate",
    "consolidate",
    "commit",
    "model",
    "rejected",
    "remote",
]


class StepRecord(TypedDict):
    """One row of the todo list."""

    id: str
    skill: str
    phase: str
    status: StepStatus
    summary: str
    started_at: float | None
    ended_at: float | None


class Failure(TypedDict):
    """Why a run stopped: the step (if any), the kind of failure and what to do."""

    step: str | None
    kind: FailureKind
    error: str


class VerifyOutcome(TypedDict, total=False):
    """A verify step's findings, split against the untouched tree's baseline."""

    introduced: list[str]
    preexisting: list[str]
    blocking: bool
    details: dict[str, str]
    """What the first introduced findings mean (a failing test's assertion), by finding."""
    summary: str
    """The check's own summary line (what a later run that reuses it as a baseline shows)."""
    accepted: list[str]
    """What the check stopped checking that the plan accepted (``accept_fewer_checks``):
    tests that passed before and no longer run, changes to the checker's configuration."""
    selection: dict[str, Any]
    """For a targeted check: every test file it ran with why, and every one left out
    (:meth:`phasegraph.skills.python.selection.Selection.as_data`)."""


class Environment(TypedDict, total=False):
    """The interpreter the run's checks use (see
    :class:`phasegraph.skills.python.pyenv.PythonEnv`)."""

    python: str
    source: str
    version: str


def baseline_key(step_id: str) -> str:
    """The todo-list key of a verify step's baseline row (``:`` never occurs in a step id)."""
    return f"baseline:{step_id}"


def merge_records(
    left: dict[str, StepRecord] | None, right: dict[str, StepRecord] | None
) -> dict[str, StepRecord]:
    """Parallel steps each report their own rows; rows merge by step id."""
    return {**(left or {}), **(right or {})}


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


def add_unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    out = list(left or [])
    out.extend(x for x in (right or []) if x not in out)
    return out


def first_failure(left: Failure | None, right: Failure | None) -> Failure | None:
    """The first failure wins: later ones (from parallel branches) do not overwrite it."""
    return left if left is not None else right


#: How a node asked its model for a structured answer (the ladder in prompts/llm.py), best first.
StructuredOutput = Literal["json_schema", "tool_calling", "json_mode", "text"]


class ModelUsage(TypedDict):
    """One node's chat model calls and the tokens they used (the model's usage metadata)."""

    calls: int
    """Calls the model answered."""
    failed_calls: int
    """Calls that raised (rate limits, timeouts, refused credentials...)."""
    input_tokens: int
    output_tokens: int
    structured_output: NotRequired[StructuredOutput]
    """The way of asking for structured answers the endpoint took."""
    endpoint: NotRequired[str]
    """A digest of the model asked (class, name, base URL): a later node asking the same
    endpoint starts from the same way."""


#: A plan as a mapping, published (input schema, Studio, the server's MCP tool) as the
#: :class:`~phasegraph.graph.model.plan.Plan` model's schema; the state keeps the plain mapping,
#: and the planner validates it (anything else is an input error in the report).
PlanMapping = Annotated[dict[str, Any], GetPydanticSchema(lambda _t, handler: handler(Plan))]


@with_config(_DOCUMENTED)
class InputState(TypedDict, total=False):
    """What a caller gives a run."""

    workspace: str
    """Root of the repository the run works on (absolute, or relative to the process's
    folder, '.' for that folder itself); or give ``repo`` instead. Served, it must lie under
    one of the folders in PHASEGRAPH_WORKSPACE_ROOTS."""
    repo: str
    """Instead of a workspace: the git URL of a repository to clone (one the owner lists in
    PHASEGRAPH_REMOTES; credentials come from the environment of the process that runs the
    graph, never from the URL). The run works in a fresh clone and pushes its commit to
    ``push``."""
    ref: str
    """With ``repo``: the branch, tag or commit to start from (default: the remote's HEAD)."""
    push: str
    """With ``repo``: the new branch the run's commit is pushed to (never ``ref``, never
    forced)."""
    plan: PlanMapping
    """The plan as a mapping (see :class:`phasegraph.Plan`): steps, or a recipe."""
    request: str
    """A request in plain words, for an LLM planner."""


@with_config(_DOCUMENTED)
class State(InputState, total=False):
    """The whole state of a run, as every checkpoint carries it."""

    run_id: str
    """Identifies the run's stored outputs."""
    strict: bool
    """Copied from :class:`RunOptions` by the planner, for the routes."""
    steps: Annotated[dict[str, StepRecord], merge_records]
    """The todo list: every step's status and one-line summary."""
    head: str | None
    """HEAD at the start of the run (None outside git)."""
    environment: Environment
    """The project's interpreter that checks run with, and where it was found."""
    tree: str | None
    """A digest of the untouched tree (None outside git): the key of kept baselines."""
    dirty: list[str]
    """The user's uncommitted files at the start: a committing run never touches them."""
    baseline: Annotated[dict[str, list[str]], merge_dicts]
    """Each verify step's findings on the untouched tree."""
    verdicts: Annotated[dict[str, VerifyOutcome], merge_dicts]
    """Each verify step's findings after the writes, split against the baseline."""
    written: Annotated[list[str], add_unique]
    """Files this run wrote, workspace-relative, in order."""
    created: Annotated[list[str], add_unique]
    """Those of ``written`` that did not exist before the run."""
    written_sha: Annotated[dict[str, str | None], merge_dicts]
    """The sha256 each written file was left with (``None``: the run removed it)."""
    consolidated: bool
    """Set by consolidate: the plan in state is final, the DAG the writes will follow."""
    notes: list[str]
    """What the consolidator left for a person to check (a recipe's "not changed" matches,
    ``file:line: why``); capped by the recipe."""
    usage: Annotated[dict[str, ModelUsage], merge_dicts]
    """Chat model calls and tokens, per node (``planner``, ``consolidate``); each node
    reports its own total once (the writer subgraph hands the state back whole, so an
    adding reducer would count them twice)."""
    failure: Annotated[Failure | None, first_failure]
    """Set once, by the first failure; every route then goes to stop_and_report."""
    commit_sha: str | None
    """The confirmed sha of the run's commit."""
    remote: RemoteRun
    """A remote run's repository, base commit, clone and branch (set by checkout)."""
    report: dict[str, Any]
    """The final report (see :class:`phasegraph.graph.model.report.Report`)."""


@with_config(_DOCUMENTED)
class ServedOutput(TypedDict, total=False):
    """What a served run gives its client (``runs.wait``, the server's MCP tool): the report
    and the run's ids; the thread's state (``threads.get_state``) still holds the rest."""

    report: dict[str, Any]
    """The final report (see :class:`phasegraph.graph.model.report.Report`): status, commit,
    failed step, failure kind and error, every step, the undo commands."""
    run_id: str
    """Identifies the run's stored outputs."""
    commit_sha: str | None
    """The confirmed sha of the run's commit (None: nothing was committed)."""
    failure: Failure | None
    """Why the run stopped, if it did: the step, the kind of failure and what to do."""


class StepTask(TypedDict):
    """Where one read, baseline or verify step runs: the run's workspace, project environment
    and tree, the step, and (for a verify) its baseline findings."""

    workspace: str
    run_id: str
    step: PlanStep
    baseline: list[str]
    environment: Environment
    tree: str | None
