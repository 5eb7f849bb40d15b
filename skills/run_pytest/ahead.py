"""The after-run's pytest, started while the baseline runs: its interpreter and pytest's own
imports, its built-in plugins too (~0.17 s of a small suite's ~0.7 s), are done by the time the
writes are. This module keeps those waiting and hands each to its after-run.

As a run's baseline of a run_pytest step starts (or is reused), the step's ``Skill.ahead``
(:func:`phasegraph.skills.run_pytest.command.start_ahead`) starts the launcher
(:mod:`phasegraph.skills.run_pytest.launcher`) in the project's interpreter, under the usual
supervisor, with the environment the after-run gets. It imports pytest and pytest's built-in
plugins, notes what it loaded and read, and waits on its stdin. The after-run of the same run
and step, in the same process and event loop, with the same interpreter, workspace and
environment, claims it and sends its pytest arguments; anything else (or one that died) runs
pytest cold. The launcher itself starts cold in its own place when what it read has changed
since.

One waits at most :data:`IDLE` seconds (then it is ended, and the after-run starts cold), and
:func:`discard` ends a run's at the run's end, whatever the end; the supervisor ends it if
phasegraph dies, and the event loop's end (a Ctrl-C) cancels it like any task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Mapping
from pathlib import Path

from phasegraph.skills.guards.procs import ProcResult, run_program
from phasegraph.skills.run_pytest.launcher import LAUNCHER, go_line

#: Seconds one started ahead waits for its arguments before it is ended.
IDLE = 120.0

#: Marks the launcher's command line (a test, or ``ps``, can tell it apart).
MARK = "# phasegraph: pytest started ahead of its turn"


@dataclasses.dataclass
class Ahead:
    """One pytest started ahead: its temporary folder (plugin, report), its environment
    without that folder's entries and with them (the one it runs with), and the running
    program waiting for its arguments."""

    python: str
    workspace: Path
    env: dict[str, str]
    run_env: dict[str, str]
    tmp: Path
    args: asyncio.Future[bytes]
    program: asyncio.Task[ProcResult]
    loop: asyncio.AbstractEventLoop
    idle: asyncio.TimerHandle

    async def run(self, cold: list[str]) -> ProcResult:
        """Run pytest with ``cold[3:]`` (``cold`` is ``python -m pytest ARGS``)."""
        self.idle.cancel()
        self.args.set_result(go_line(cold, self.run_env))
        return dataclasses.replace(await self.program, argv=tuple(cold))

    def end(self) -> None:
        """End it unclaimed: the supervisor kills it, and its folder goes (:func:`_unclaimed`).
        From another thread's loop, it is ended in its own (a task is not thread-safe)."""
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self.loop:
            self.idle.cancel()
            self.program.cancel()
        elif not self.loop.is_closed():  # a closed loop ended and reaped it as it closed
            self.loop.call_soon_threadsafe(self.end)


_WAITING: dict[tuple[str, str], Ahead] = {}


async def start(
    key: tuple[str, str],
    python: str,
    workspace: Path,
    env: dict[str, str],
    tmp: Path,
    run_env: Mapping[str, str],
    *,
    timeout: float,
    output_cap: int,
) -> None:
    """Start the pytest of run and step ``key`` ahead: ``env`` is the after-run's environment
    as the claim compares it, ``run_env`` the one it runs with (``tmp``'s plugin and report).
    A second start for the same key (a retried baseline) keeps the first."""
    if key in _WAITING:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
        return
    loop = asyncio.get_running_loop()
    args: asyncio.Future[bytes] = loop.create_future()
    program = loop.create_task(
        run_program(
            [python, "-c", MARK + LAUNCHER],
            cwd=workspace,
            timeout=timeout,
            env=run_env,
            output_cap=output_cap,
            stdin=args,
        )
    )
    program.add_done_callback(lambda _: _unclaimed(args, tmp))
    idle = loop.call_later(IDLE, _drop, key)
    _WAITING[key] = Ahead(python, workspace, env, dict(run_env), tmp, args, program, loop, idle)


def _unclaimed(args: asyncio.Future[bytes], tmp: Path) -> None:
    """Its program ended: if its arguments were never sent (ended unclaimed, or its loop
    closing), its folder goes, in a worker thread (a served run allows no blocking call on
    the loop; ``asyncio.run`` waits for the thread). A claimed one's folder holds the report
    its after-run reads, and removes."""
    if not args.done():
        args.cancel()
        asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, tmp, True)


def claim(
    key: tuple[str, str], python: str, workspace: Path, env: Mapping[str, str]
) -> Ahead | None:
    """The pytest started ahead for ``key``, if it runs exactly as a cold one would here."""
    ahead = _WAITING.pop(key, None)
    if ahead is None:
        return None
    same = (ahead.python, ahead.workspace, ahead.env) == (python, workspace, dict(env))
    if same and asyncio.get_running_loop() is ahead.loop and not ahead.program.done():
        return ahead
    ahead.end()
    return None


async def discard(run_id: str) -> None:
    """End every pytest started ahead for ``run_id`` (its run is over), and wait until each
    is gone, its folder too."""
    ended = [ahead for key in list(_WAITING) if key[0] == run_id and (ahead := _drop(key))]
    loop = asyncio.get_running_loop()
    for ahead in ended:
        if ahead.loop is loop:
            await asyncio.wait([ahead.program])
            await asyncio.to_thread(shutil.rmtree, ahead.tmp, True)


def _drop(key: tuple[str, str]) -> Ahead | None:
    """End the one waiting for ``key``, if any; it, still ending."""
    ahead = _WAITING.pop(key, None)
    if ahead is not None:
        ahead.end()
    return ahead
