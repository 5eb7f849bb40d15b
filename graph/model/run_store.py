"""The run store: every record a run keeps outside its graph state, behind one small API.

Graph state stays small (statuses and one-line summaries); what is large or must
survive a crash exactly lives here, in the run's LangGraph store, namespaced by run:

- step outputs (``outputs``): a read's full data, which the consolidator reads;
- the write steps and each one's outcome (``journal``, ``write-step:<i>`` and
  ``write-outcome:<i>``): the writer subgraph's work list, so its state is O(1);
- the write journal (``journal``, ``<step id>``): each target's hash before and after the
  write, so a resumed run applies a write exactly once;
- the commit journal (``journal``, ``commit:<step id>``): HEAD before the commit, so a
  resumed run recognises a commit it already made;
- the write plan (``journal``, ``write-plan``): each write step's target files and their
  hashes when the writes began, so a resumed run can check the disk (:meth:`progress`);
- what each verify step's baseline saw hold and not hold (``baselines``, ``<step id>``):
  ``checked`` (the tests that passed) and ``not_passed`` (skipped, xfailed, with why), which
  the gate holds the run after the writes to.

The bytes the writes replace (pre-images, for undo) are kept in the workspace instead
(``graph/durable/undo.py``), so that undo works after the process, and an in-memory store, are gone.

The namespaces are those earlier versions wrote, so their runs still resume.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from phasegraph.graph.model.plan import PlanStep

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

Hashes = dict[str, str | None]


def file_hash(path: Path) -> str | None:
    """sha256 of the file's bytes, or ``None`` when there is no file."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def hashes(workspace: Path, files: list[str]) -> Hashes:
    return {rel: file_hash(workspace / rel) for rel in files}


def landed(entry: dict[str, Any], now: Hashes) -> Literal["landed", "not-landed", "changed"]:
    """Did the journaled write land? ``changed``: the files match neither before nor after."""
    after = entry.get("after")
    if after is not None and now == after:
        return "landed"
    if now == entry["before"]:
        return "not-landed"
    # The rename happened but the process died before it could record "after".
    return "landed" if after is None else "changed"


@dataclass
class WriteProgress:
    """How far a run's writes got, from its journal: what a resumed run checks on disk."""

    left: Hashes = field(default_factory=dict)
    """Files the recorded writes wrote, each with the hash it was left with (``None``: removed)."""
    started: set[str] = field(default_factory=set)
    """Files of a write that began and was not recorded: the journal's :func:`landed` judges."""
    pending: list[str] = field(default_factory=list)
    """Files of the writes not begun yet (none of the above)."""
    start: Hashes = field(default_factory=dict)
    """Each target's hash when the writes began."""


class RunStore:
    """One run's records in ``store``: step outputs, write steps and outcomes, journals."""

    def __init__(self, store: BaseStore, run_id: str) -> None:
        self._store = store
        self._outputs = ("phasegraph", "outputs", run_id)
        self._journal = ("phasegraph", "journal", run_id)
        self._baselines = ("phasegraph", "baselines", run_id)

    async def _get(self, namespace: tuple[str, ...], key: str) -> dict[str, Any] | None:
        item = await self._store.aget(namespace, key)
        return dict(item.value) if item is not None else None

    async def _put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> None:
        await self._store.aput(namespace, key, value, index=False)

    async def put_output(self, step_id: str, output: dict[str, Any]) -> None:
        """Keep a finished step's output (``summary``, ``data``, ``findings``)."""
        await self._put(self._outputs, step_id, output)

    async def output(self, step_id: str) -> dict[str, Any] | None:
        return await self._get(self._outputs, step_id)

    async def put_baseline(self, step_id: str, seen: dict[str, Any]) -> None:
        """Keep what verify step ``step_id``'s baseline saw (``checked``, ``not_passed``)."""
        await self._put(self._baselines, step_id, seen)

    async def baseline(self, step_id: str) -> dict[str, Any]:
        return await self._get(self._baselines, step_id) or {}

    async def put_write_step(self, index: int, step: PlanStep) -> None:
        await self._put(self._journal, f"write-step:{index}", dict(step))

    async def put_write_steps(self, steps: list[PlanStep]) -> None:
        """Keep the run's write steps, in order, as they will run (their files resolved)."""
        for index, step in enumerate(steps):
            await self.put_write_step(index, step)

    async def _write_step(self, index: int) -> PlanStep | None:
        """Write step ``index`` as :meth:`put_write_step` kept it (``None``: not kept)."""
        return cast("PlanStep | None", await self._get(self._journal, f"write-step:{index}"))

    async def write_steps(self) -> list[PlanStep]:
        """The run's write steps, in order (none kept yet: ``[]``)."""
        steps: list[PlanStep] = []
        while (found := await self._write_step(len(steps))) is not None:
            steps.append(found)
        return steps

    async def write_step(self, index: int) -> PlanStep:
        found = await self._write_step(index)
        if found is None:
            raise LookupError(f"write step #{index} is missing from the run's store")
        return found

    async def put_write_outcome(self, index: int, outcome: dict[str, Any]) -> None:
        await self._put(self._journal, f"write-outcome:{index}", outcome)

    async def write_outcome(self, index: int) -> dict[str, Any] | None:
        return await self._get(self._journal, f"write-outcome:{index}")

    async def write_entry(self, step_id: str) -> dict[str, Any] | None:
        """The journal entry of a write step: ``before`` (and, once it landed, ``after``)."""
        return await self._get(self._journal, step_id)

    async def put_write_entry(self, step_id: str, entry: dict[str, Any]) -> None:
        await self._put(self._journal, step_id, entry)

    async def commit_entry(self, step_id: str) -> dict[str, Any] | None:
        """The journal entry of a commit step: ``head`` before it ran."""
        return await self._get(self._journal, f"commit:{step_id}")

    async def put_commit_entry(self, step_id: str, entry: dict[str, Any]) -> None:
        await self._put(self._journal, f"commit:{step_id}", entry)

    async def write_plan(self) -> dict[str, Any] | None:
        """``targets`` (a list of files per write step) and ``start`` (their hashes then)."""
        return await self._get(self._journal, "write-plan")

    async def put_write_plan(self, targets: list[list[str]], start: Hashes) -> None:
        await self._put(self._journal, "write-plan", {"targets": targets, "start": start})

    async def progress(self) -> WriteProgress | None:
        """The writes' progress, or ``None`` when the writer has not begun."""
        plan = await self.write_plan()
        if plan is None:
            return None
        found = WriteProgress(start=dict(plan["start"]))
        pending: list[str] = []
        for index, targets in enumerate(plan["targets"]):
            outcome = await self.write_outcome(index)
            if outcome is not None:
                for rel in outcome.get("written", []):
                    found.left[rel] = outcome["after"].get(rel)
                continue
            entry = await self.write_entry((await self.write_step(index))["id"])
            if entry is not None:
                found.started |= set(entry["before"])
            else:
                pending += targets
        seen = set(found.left) | found.started
        found.pending = [f for f in dict.fromkeys(pending) if f not in seen]
        return found
