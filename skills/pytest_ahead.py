"""The after-run's pytest, started while the baseline runs: its interpreter and pytest's own
imports, its built-in plugins too (~0.17 s of a small suite's ~0.7 s), are done by the time the
writes are.

As a run's baseline of a run_pytest step starts (or is reused), the step's ``Skill.ahead``
(:func:`phasegraph.skills.run_pytest.start_ahead`) starts :data:`LAUNCHER` in the project's
interpreter, under the usual supervisor, with the environment the after-run gets. It imports
pytest and pytest's built-in plugins, notes what it loaded (each module file's identity, each
``sys.path`` folder's entries) and waits on its stdin. The after-run of the same run and step,
in the same process and event loop, with the same interpreter, workspace and environment,
claims it and sends its pytest arguments; anything else (or one that died) runs pytest cold.

Before going on, the launcher looks again: if a file it loaded changed, or a module it
imported (or a ``.pth`` file) appeared or went in a folder on ``sys.path`` (a write that
shadows ``pytest``, say), it ``exec``\\ s a cold ``python -m pytest`` in its own place, so the
run is exactly the one a cold start gives. Otherwise it runs pytest as ``-m`` does
(``runpy``, ``sys.path[0]`` the working folder, stdin ``/dev/null``), with the import system's
cached folder listings dropped (a coarse file system's mtime hides a file the writes added).
Nothing of the project is imported before the arguments arrive: collection, conftest files,
the installed plugins and the configuration all load afterwards, from the tree as the writes
left it.

One waits at most :data:`IDLE` seconds (then it is ended, and the after-run starts cold), and
:func:`discard` ends a run's at the run's end, whatever the end; the supervisor ends it if
phasegraph dies, and the event loop's end (a Ctrl-C) cancels it like any task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from phasegraph.skills.procs import ProcResult, run_program

#: Seconds one started ahead waits for its arguments before it is ended.
IDLE = 120.0

#: Marks the launcher's command line (a test, or ``ps``, can tell it apart).
MARK = "# phasegraph: pytest started ahead of its turn"

LAUNCHER = (
    MARK
    + '''
import json, os, sys


def _seen():
    """What pytest's import rests on: each loaded module file, and each entry of a folder
    on sys.path that could change an import (a module of the same name, a .pth file)."""
    def identity(name):
        try:
            st = os.stat(name)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    files = {}
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            files[name] = identity(name)
    tops = {name.partition(".")[0] for name in sys.modules} | {"sitecustomize", "usercustomize"}
    folders = {}
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        folders[folder] = {
            n: identity(os.path.join(folder, n))
            for n in names
            if n.endswith(".pth") or n.partition(".")[0] in tops
        }
    return files, folders


import pytest


def _builtin_plugins():
    """pytest's own plugin modules, which its configuration imports (~30 ms): pytest's code
    only, never the project's."""
    import importlib
    from _pytest import config

    for name in getattr(config, "default_plugins", ()):
        try:
            importlib.import_module("_pytest." + name)
        except Exception:
            pass  # a cold start meets the same error, where pytest reports it


_builtin_plugins()
_BEFORE = _seen()
_line = b""
while not _line.endswith(b"\\n"):
    _chunk = os.read(0, 65536)
    if not _chunk:
        sys.exit(0)  # ended unfed: never claimed
    _line += _chunk
_GO = json.loads(_line)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
if _seen() != _BEFORE:  # something it loaded changed: start cold, in its own place
    os.execv(_GO["cold"][0], _GO["cold"])
# Folder listings the import system cached while waiting are trusted by the folder's mtime,
# which a coarse file system does not move for a file added since: a cold start has none.
import importlib

importlib.invalidate_caches()
sys.path[0] = os.getcwd()
sys.argv = [sys.argv[0], *_GO["args"]]
del _BEFORE, _line, _GO, _null
import runpy

runpy.run_module("pytest", run_name="__main__", alter_sys=True)
'''
)


@dataclasses.dataclass
class Ahead:
    """One pytest started ahead: its temporary folder (plugin, report), its environment
    without that folder's entries, and the running program waiting for its arguments."""

    python: str
    workspace: Path
    env: dict[str, str]
    tmp: Path
    args: asyncio.Future[bytes]
    program: asyncio.Task[ProcResult]
    loop: asyncio.AbstractEventLoop
    idle: asyncio.TimerHandle

    async def run(self, cold: list[str]) -> ProcResult:
        """Run pytest with ``cold[3:]`` (``cold`` is ``python -m pytest ARGS``)."""
        self.idle.cancel()
        self.args.set_result((json.dumps({"args": cold[3:], "cold": cold}) + "\n").encode())
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
            [python, "-c", LAUNCHER],
            cwd=workspace,
            timeout=timeout,
            env=run_env,
            output_cap=output_cap,
            stdin=args,
        )
    )
    program.add_done_callback(lambda _: _unclaimed(args, tmp))
    idle = loop.call_later(IDLE, _drop, key)
    _WAITING[key] = Ahead(python, workspace, env, tmp, args, program, loop, idle)


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
