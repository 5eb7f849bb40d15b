"""The after-run's pytest, started while the baseline runs: its interpreter and pytest's own
imports, its built-in plugins too (~0.17 s of a small suite's ~0.7 s), are done by the time the
writes are.

As a run's baseline of a run_pytest step starts (or is reused), the step's ``Skill.ahead``
(:func:`phasegraph.skills.run_pytest.skill.start_ahead`) starts :data:`LAUNCHER` in the project's
interpreter, under the usual supervisor, with the environment the after-run gets. It imports
pytest and pytest's built-in plugins, notes what it loaded (each module file's identity, each
``sys.path`` folder's entries) and waits on its stdin. The after-run of the same run and step,
in the same process and event loop, with the same interpreter, workspace and environment,
claims it and sends its pytest arguments; anything else (or one that died) runs pytest cold.

What it read before its arguments came is known too. Its first lines install an audit hook
(:data:`WATCH`) that notes each file opened (its identity before the reading), each folder
listed other than by the import system (whose ``sys.path`` folders are checked as above), each
file whose code ran, and what no hook can follow (a program started, a library loaded by
``ctypes``). The interpreter's start-up ran before that: the ``.pth`` files' import lines,
``sitecustomize``. A probe runs it again, watched, beside the launcher (:data:`PROBE`: a
``python -S`` in the environment the launcher started with, so a start-up's doings happen once
more), and its reads are checked as the launcher's own.

Before going on, the launcher looks again. If a file it loaded or read changed (appeared,
went), a folder it listed has other names, a module it imported (or a ``.pth`` file) appeared
or went in a folder on ``sys.path`` (a write that shadows ``pytest``, say), or it cannot know
what it read, it ``exec``\\ s a cold ``python -m pytest`` in its own place, in the environment
it was given (not as its start-up left it), so the run is exactly the one a cold start gives.
It cannot know when the project's own code ran before the arguments (a ``.pth`` line that
imports the project, a module that shadows one of pytest's): a file in the workspace but not in
the interpreter's own folders (its stdlib, its site-packages, which a ``.venv`` in the
workspace holds), whose C code or programs could read anything; nor when the hook saw what it
cannot follow, or the probe failed (or took over :data:`PROBE_WAIT` seconds, or ran in an
environment other than the launcher's: where ``/proc`` cannot tell the one it started with, the
probe gets the one its start-up left). The code of the interpreter's own folders is trusted to
read only through Python, where the hook sees it. Otherwise it runs pytest as ``-m`` does
(``runpy``, ``sys.path[0]`` the working folder, stdin ``/dev/null``), with the import system's
cached folder listings dropped (a coarse file system's mtime hides a file the writes added).
Nothing of the project has run before the arguments arrive in one that goes on: collection,
conftest files, the installed plugins and the configuration all load afterwards, from the tree
as the writes left it.

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

from phasegraph.skills.guards.procs import ProcResult, run_program

#: Seconds one started ahead waits for its arguments before it is ended.
IDLE = 120.0

#: Seconds the launcher waits for its start-up probe (:data:`PROBE`): then it starts cold.
PROBE_WAIT = 30.0

#: Marks the launcher's command line (a test, or ``ps``, can tell it apart).
MARK = "# phasegraph: pytest started ahead of its turn"

#: The audit hook the launcher and its probe note what they read with, from the moment it is
#: in until the arguments come: each file opened (its identity then, before the reading),
#: each folder listed other than by the import system (its names then), each folder code ran
#: from, and what no hook can follow (a program started, a library loaded with ctypes).
WATCH = r'''
import os, sys, _thread

_HERE = os.getcwd()  # the workspace
_READ = {}  # (kind, path): what it was when first read ("open": identity, "list": names)
_RAN = {}  # each folder code ran from (a module's, an exec'd file's): one file of it
_BLIND = []  # what it did that no hook follows
_OFF = []  # the arguments came: from then on it reads the tree the writes left
_IN = set()  # the threads in the hook now: what the hook does raises events too
_UNSEEN = frozenset((
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.startfile", "ctypes.dlopen",
))
_EVENTS = _UNSEEN | {"open", "os.listdir", "os.scandir", "exec", "sqlite3.connect"}


def _now(kind, path):
    """What reading ``path`` gives, as far as a change goes: a file's identity, a folder's
    names; None if there is nothing to read."""
    try:
        if kind == "open":
            st = os.stat(path)
            if st.st_mode & 0o170000 != 0o040000:
                return [st.st_ino, st.st_size, st.st_mtime_ns]
        return "/".join(sorted(os.listdir(path)))
    except OSError:
        return None


def _note(event, args):
    if event in _UNSEEN:
        _BLIND.append(event)
    elif event == "exec":
        name = getattr(args[0], "co_filename", "")
        if isinstance(name, str) and (os.path.isabs(name) or os.path.isfile(name)):
            _RAN.setdefault(os.path.dirname(os.path.abspath(name)), name)
    elif not isinstance(args[0], int):  # by a descriptor: its opening was noted
        kind = "list" if event in ("os.listdir", "os.scandir") else "open"
        if event == "open" and args[2] & (os.O_WRONLY | os.O_RDWR) == os.O_WRONLY:
            return  # written, never read
        if kind == "list":
            caller = sys._getframe(2).f_code  # 0: this, 1: the hook
            if caller.co_name == "_fill_cache" and "importlib" in caller.co_filename:
                return  # the import system's: the folders on sys.path are checked as such
        path = os.path.abspath(os.fsdecode(os.fspath("." if args[0] is None else args[0])))
        if (kind, path) not in _READ:
            _READ[kind, path] = _now(kind, path)


def _audit(event, args):
    if _OFF or event not in _EVENTS:
        return
    me = _thread.get_ident()
    if me in _IN:
        return
    _IN.add(me)
    try:
        _note(event, args)
    except Exception as error:  # a read it could not note: one it cannot vouch for
        _BLIND.append("%s: %r" % (event, error))
    finally:
        _IN.discard(me)


def _quietly(call, *args):
    """``call(*args)``, what it reads unnoted: the launcher's own doings, not pytest's."""
    me = _thread.get_ident()
    _IN.add(me)
    try:
        return call(*args)
    finally:
        _IN.discard(me)


if hasattr(sys, "addaudithook"):
    sys.addaudithook(_audit)
else:
    _BLIND.append("no audit hook (Python < 3.8)")


def _project_code():
    """The project's own code that ran here (or was loaded): files in the workspace outside
    the interpreter's own folders (its stdlib, its site-packages, which a .venv in the
    workspace holds)."""
    if not _OWN:
        import site, sysconfig

        paths = sysconfig.get_paths()
        own = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
        own += getattr(site, "getsitepackages", list)()
        if getattr(site, "ENABLE_USER_SITE", False):
            own.append(site.getusersitepackages())
        _OWN.extend(os.path.join(os.path.realpath(folder), "") for folder in own if folder)
    found = [name for folder, name in list(_RAN.items()) if not _theirs(folder)]
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            if name not in _FILES:
                _FILES[name] = _theirs(os.path.dirname(os.path.abspath(name)))
            if not _FILES[name]:
                found.append(name)
    return found


def _theirs(folder):
    """Whether ``folder`` holds no code of the project's."""
    if folder not in _FOLDERS:
        real = os.path.join(os.path.realpath(folder), "")
        here = os.path.join(os.path.realpath(_HERE), "")
        _FOLDERS[folder] = not real.startswith(here) or real.startswith(tuple(_OWN))
    return _FOLDERS[folder]


_OWN = []  # the interpreter's own folders (real paths), once known
_FOLDERS = {}  # each folder judged by _theirs
_FILES = {}  # each module file judged, by its folder
'''

#: What starts the probe's report, on its last line of output.
PROBED = "phasegraph start-up probe: "

#: The launcher's start-up probe, run as ``python -S -c PROBE`` where the launcher runs, in
#: the environment it started with: the interpreter's start-up (:func:`site.main`: the
#: ``.pth`` files' import lines, ``sitecustomize``) again, under :data:`WATCH` this time, as
#: the launcher's own ran before it could hook anything. It reports what it read (and what it
#: cannot vouch for) as JSON after :data:`PROBED`.
PROBE = (
    WATCH
    + f"\n_PROBED = {PROBED!r}\n"
    + r"""
if sys.path[:1] == [""]:
    del sys.path[0]  # the working folder: a start-up's site runs before it is put there
import site

site.main()
_OFF.append(True)
import json

_found = {
    "read": [[kind, path, then] for (kind, path), then in _READ.items()],
    "blind": _BLIND + ["project code ran: " + name for name in _project_code()],
}
_out = ("\n" + _PROBED + json.dumps(_found) + "\n").encode()
while _out:
    _out = _out[os.write(1, _out) :]
os._exit(0)  # no exit handlers: the start-up's run once more only as it started
"""
)

LAUNCHER = (
    MARK
    + WATCH
    + f"\n_PROBE = {PROBE!r}\n_PROBED = {PROBED!r}\n_PROBE_WAIT = {PROBE_WAIT!r}\n"
    + r'''
import json


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


def _probe():
    """Start the start-up probe, in the environment this interpreter started with (as far
    as it can tell: where /proc cannot, its own as the start-up left it, which the arguments
    then show was not if the start-up changed it)."""
    import subprocess

    try:
        with open("/proc/self/environ", "rb") as initial:
            pairs = [item.partition(b"=") for item in initial.read().split(b"\0")]
        env = {os.fsdecode(key): os.fsdecode(value) for key, sep, value in pairs if sep}
    except OSError:
        env = dict(os.environ)
    _STARTUP_ENV.update(env)
    return subprocess.Popen(
        [sys.executable, "-S", "-c", _PROBE],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def _probed(probe):
    """What the start-up probe read (to check as the launcher's own reads), and what it
    cannot vouch for."""
    import subprocess

    try:
        out = probe.communicate(timeout=_PROBE_WAIT)[0]
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.wait()
        return ["the start-up probe took too long"]
    report = out.rpartition(("\n" + _PROBED).encode())[2]
    if probe.returncode != 0 or not report:
        return ["the start-up probe failed"]
    found = json.loads(report)
    _STARTUP.extend(found["read"])
    return found["blind"]


# The project's code, run as the interpreter started (a .pth line importing it): cold,
# whatever it read. Else what the start-up read is found by running it again, watched.
_STARTUP = []
_STARTUP_ENV = {}
_COLD = _quietly(_project_code)
_probing = None if _COLD else _quietly(_probe)
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
_BEFORE = _quietly(_seen)
_quietly(_project_code)  # judged now, not once the arguments have come
if _probing is not None:
    _COLD += _quietly(_probed, _probing)
_line = b""
while not _line.endswith(b"\n"):
    _chunk = os.read(0, 65536)
    if not _chunk:
        sys.exit(0)  # ended unfed: never claimed
    _line += _chunk
_OFF.append(True)
_GO = json.loads(_line)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
_COLD += _BLIND + _project_code()
_COLD += [path for (kind, path), then in list(_READ.items()) if _now(kind, path) != then]
_COLD += [path for kind, path, then in _STARTUP if _now(kind, path) != then]
if _probing is not None and _STARTUP_ENV != _GO["env"]:
    _COLD.append("the start-up was probed in another environment")
if _COLD or _seen() != _BEFORE:  # it read what changed, or cannot tell: start cold, here
    os.execve(_GO["cold"][0], _GO["cold"], _GO["env"])  # not as the start-up left it
# Folder listings the import system cached while waiting are trusted by the folder's mtime,
# which a coarse file system does not move for a file added since: a cold start has none.
import importlib

importlib.invalidate_caches()
sys.path[0] = os.getcwd()
sys.argv = [sys.argv[0], *_GO["args"]]
del _BEFORE, _line, _GO, _null, _COLD, _probing, _STARTUP, _STARTUP_ENV
import runpy

runpy.run_module("pytest", run_name="__main__", alter_sys=True)
'''
)


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
        go = {"args": cold[3:], "cold": cold, "env": self.run_env}
        self.args.set_result((json.dumps(go) + "\n").encode())
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
