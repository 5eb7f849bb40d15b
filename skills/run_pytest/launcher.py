"""The program an interpreter started ahead of its turn runs (:data:`LAUNCHER`), and the line
it waits for on its stdin (:func:`go_line`): the protocol between it and
:mod:`phasegraph.skills.run_pytest.ahead`.

The launcher imports pytest and pytest's built-in plugins, notes what it loaded (each module
file's identity, each ``sys.path`` folder's entries) and waits on its stdin for its pytest
arguments. What it read before they came is known too. Its first lines install an audit hook
(:data:`~phasegraph.skills.run_pytest.watch.WATCH`) that notes each file opened (its identity
before the reading), each folder listed other than by the import system (whose ``sys.path``
folders are checked as above), each file whose code ran, and what no hook can follow (a program
started, a library loaded by ``ctypes``). The interpreter's start-up ran before that: the
``.pth`` files' import lines, ``sitecustomize``. A probe runs it again, watched, beside the
launcher (:data:`PROBE`: a ``python -S`` in the environment the launcher started with, so a
start-up's doings happen once more), and its reads are checked as the launcher's own.

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
"""

from __future__ import annotations

import json

from phasegraph.skills.run_pytest.watch import WATCH

#: Seconds the launcher waits for its start-up probe (:data:`PROBE`): then it starts cold.
PROBE_WAIT = 30.0

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

#: The launcher, run as ``python -c`` in the workspace with the environment the after-run gets
#: (:func:`phasegraph.skills.run_pytest.ahead.start` puts its mark before it).
LAUNCHER = (
    WATCH
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


def go_line(cold: list[str], env: dict[str, str]) -> bytes:
    """The line that sets a waiting launcher going: pytest's arguments (``cold[3:]``; ``cold``
    is ``python -m pytest ARGS``, the cold start it ``exec``\\ s instead when it must) and the
    environment pytest runs with."""
    go = {"args": cold[3:], "cold": cold, "env": env}
    return (json.dumps(go) + "\n").encode()
