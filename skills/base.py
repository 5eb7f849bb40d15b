"""What a skill is: a name, a kind, a pydantic args model and an async function."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from phasegraph.skills.core import redact
from phasegraph.skills.python.env.python_env import PythonEnv, own_env


class SkillKind(StrEnum):
    """The phase a skill runs in; the order of the members is the phase order."""

    READ = "read"
    WRITE = "write"
    VERIFY = "verify"
    COMMIT = "commit"

    @property
    def order(self) -> int:
        return list(SkillKind).index(self)


class PathArg:
    """Marks an args field as a workspace-relative path (or a list of them).

    Plan validation refuses such values when they escape the workspace, so a
    skill never sees ``..`` tricks or absolute paths.

    Example: ``path: Annotated[str, PathArg()] = "."``
    """

    def __repr__(self) -> str:
        return "PathArg()"


class SkillArgs(BaseModel):
    """Base for skill argument models: unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class SkillResult(BaseModel):
    """What a skill returns.

    ``summary`` is one short line for the todo table and the report; ``data``
    is the full output, kept out of the graph state that every checkpoint
    carries. Verify skills list what they found in ``findings`` as stable keys
    (no line numbers), so a run can tell findings it introduced from old ones.
    """

    ok: bool = True
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)
    files_written: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    #: What a finding means, for the report: a failing test's assertion and location, a
    #: lint or type error's line. Keyed by finding; findings without one are just listed.
    details: dict[str, str] = Field(default_factory=dict)
    #: What a check saw hold (run_pytest: the tests that passed). The gate requires each
    #: that held before the writes to hold after them: one that stopped holding (a test now
    #: skipped, deselected or gone) is a new finding, even with no failure.
    checked: list[str] = Field(default_factory=list)

    def as_baseline(self) -> dict[str, Any]:
        """What a baseline keeps of this result (the gate's view of the untouched tree)."""
        selection = self.data.get("selection")
        return {
            "findings": list(self.findings),
            "summary": self.summary,
            "checked": list(self.checked),
            "not_passed": dict(self.data.get("not_passed") or {}),
            **({"selected": list(selection.get("files") or [])} if selection else {}),
        }


#: Seconds a step may take unless the run says otherwise (``RunOptions.step_timeout``).
DEFAULT_STEP_TIMEOUT = 600.0


@dataclass(frozen=True)
class SkillContext:
    """What a running skill may use: the workspace root, limits and run facts."""

    workspace: Path
    step_id: str = ""
    timeout: float = DEFAULT_STEP_TIMEOUT
    output_cap: int = 2_000_000
    fetch_max_bytes: int = 2_000_000
    #: Files this run has written so far (workspace-relative), for git_checkpoint.
    run_files: tuple[str, ...] = ()
    #: Environment for subprocesses; ``None`` means the current one.
    env: Mapping[str, str] | None = None
    #: Drop variables that look like secrets (tokens, keys, passwords) from that environment.
    scrub_env: bool = True
    #: Hosts (names, IP addresses or networks such as ``10.0.0.0/8``) fetch_url may reach
    #: even though they are loopback, private or otherwise internal.
    allow_hosts: tuple[str, ...] = ()
    #: Seconds one fetch may take in all (redirects included); the step timeout also applies.
    fetch_timeout: float = 60.0
    #: Files larger than this are refused by the write skills rather than edited.
    edit_max_bytes: int = 10_000_000
    #: The project's interpreter that checks run with (``None``: phasegraph's own).
    python_env: PythonEnv | None = None
    #: Identifies the run: checks that shuffle (pytest-randomly) get one seed per run.
    run_id: str = ""
    #: The files the run's write steps target (workspace-relative), for a targeted check:
    #: planned before the writes, the same list after them; ``None``: not known (yet).
    planned_files: tuple[str, ...] | None = None
    #: For a targeted check after the writes: the test files its baseline ran (``()``: the
    #: whole suite), which it runs too, so the two runs compare like for like; ``None``: no
    #: baseline (this is one, or the run is strict).
    selected_before: tuple[str, ...] | None = None

    @property
    def python(self) -> PythonEnv:
        return self.python_env or own_env()

    def subprocess_env(self) -> dict[str, str]:
        """The environment a subprocess gets: ``env`` (or the current one), scrubbed of secrets."""
        env = dict(self.env if self.env is not None else os.environ)
        return redact.scrub_env(env) if self.scrub_env else env


@dataclass(frozen=True)
class InMemory:
    """A write tried in memory: the text it leaves, or why it cannot apply (``text`` and
    ``problem`` both ``None``: nothing to say, such as args the args check will refuse)."""

    text: str | None = None
    problem: str | None = None


A = TypeVar("A", bound=BaseModel)

SkillFn = Callable[[A, SkillContext], Awaitable[SkillResult]]
#: Gets a later run of a step ready, in the background: called with that run's context.
AheadFn = Callable[[A, SkillContext], Awaitable[None]]


@dataclass(frozen=True)
class Skill(Generic[A]):
    """A registered capability: ``await skill.run(args, context)``."""

    name: str
    kind: SkillKind
    args_model: type[A]
    fn: SkillFn[A]
    description: str = ""
    #: Programs (looked up on PATH and beside the running Python) the skill needs.
    programs: tuple[str, ...] = ()
    #: Gets the step's run after the writes ready while its baseline runs (or is reused),
    #: in this process: run_pytest starts that run's interpreter
    #: (:mod:`phasegraph.skills.run_pytest.ahead`). Best effort: whatever it does, the later run
    #: is the same as a cold one, only sooner.
    ahead: AheadFn[A] | None = None
    #: Lists, without running them, what the check would run that the run's writes can
    #: reach (its result's ``checked``), on the tree before them: a check that has it takes
    #: its baseline after the writes, on the pre-run tree put back for a moment, and only for
    #: what did not pass then (:mod:`phasegraph.nodes.baseline_after`).
    collect: SkillFn[A] | None = None
    #: The module the skill imports in the project's interpreter (run_pytest: ``pytest``):
    #: preflight checks that the interpreter has it and that the project's own packages come
    #: from the workspace there (the code the run writes, not an installed copy).
    needs_module: str | None = None
    #: Whether a step with these args (a plan step's ``args``) selects what it runs by the
    #: run's planned writes (a targeted run_pytest): it runs, its baseline too, once they are
    #: known, and its kept baseline is keyed by them.
    by_writes: Callable[[Mapping[str, Any]], bool] | None = None
    #: A step's args narrowed to run only the given tests (node ids, or files), with its
    #: options: how a check's failures are run again alone (a kept baseline confirmed, a
    #: baseline taken after the writes).
    narrowed: Callable[[Mapping[str, Any], list[str]], dict[str, Any]] | None = None
    #: A write of one file tried in memory, for the dry run and the approval preview: given
    #: its args, the file's workspace-relative path and its text as the earlier writes leave
    #: it (``None``: no such file), the text after it, or why it cannot apply
    #: (:class:`InMemory`). ``None``: the skill cannot be tried so (its files are then unknown
    #: to the writes after it).
    in_memory: Callable[[Mapping[str, Any], str, str | None], InMemory] | None = None

    def parse_args(self, raw: Mapping[str, Any]) -> A:
        return self.args_model.model_validate(dict(raw))

    async def run(self, args: A, context: SkillContext) -> SkillResult:
        return await self.fn(args, context)

    def path_fields(self) -> list[str]:
        """Names of the args fields marked with :class:`PathArg`."""
        return [
            name
            for name, info in self.args_model.model_fields.items()
            if any(isinstance(m, PathArg) for m in info.metadata)
        ]
