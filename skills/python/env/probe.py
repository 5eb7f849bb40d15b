"""Asking the project's interpreter about itself (:func:`probe`): its version, the check tools
and pytest plugins it has, its site-packages folder, and, with a workspace, where it imports
each of the project's own packages from (:mod:`phasegraph.skills.python.env.project_packages`).

One run of the interpreter answers all of it, kept for the process while the interpreter and
its site-packages are unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from phasegraph.skills.core.errors import PythonEnvError
from phasegraph.skills.python.env.project_packages import import_path, project_packages
from phasegraph.skills.python.env.python_env import PythonEnv

# Run by the chosen interpreter: its version, the check tools it has, its pytest plugins; with
# an argument ({"front": [...], "names": [...]}), also where each of the names is imported from
# with those folders at the front of sys.path (as pytest's run in the workspace has them).
_PROBE = """\
import importlib.metadata as m, importlib.util as u, json, sys, sysconfig
def version(name):
    try:
        return m.version(name)
    except Exception:
        return None
def where(name):
    try:
        spec = u.find_spec(name)
    except Exception:
        return None
    if spec is None:
        return None
    if spec.origin and spec.has_location:
        return spec.origin
    for folder in spec.submodule_search_locations or ():
        return folder
    return spec.origin
plugins = []
try:
    for ep in m.entry_points(group="pytest11"):
        plugins.append([ep.name, ep.dist.name if ep.dist else ""])
except Exception:
    pass
found = {
    "version": "%d.%d.%d" % sys.version_info[:3],
    "executable": sys.executable,
    "modules": {n: (version(n) or "?") if u.find_spec(n) else None for n in ("pytest", "mypy")},
    "pytest_plugins": plugins,
    "purelib": sysconfig.get_paths()["purelib"],
}
if len(sys.argv) > 1:
    asked = json.loads(sys.argv[1])
    sys.path[:0] = asked["front"]
    found["located"] = {n: where(n) for n in asked["names"]}
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Probe:
    """What the interpreter said about itself."""

    version: str
    modules: dict[str, str | None] = field(default_factory=dict)
    #: ``(entry point name, distribution name)`` of every pytest plugin it would autoload.
    pytest_plugins: tuple[tuple[str, str], ...] = ()
    #: Its site-packages folder: what is installed there changes what a check finds.
    purelib: str = ""
    #: Asked with a workspace (:func:`probe`): where each of the project's own top-level
    #: packages is imported from (a file or folder; ``None``: nowhere), with the workspace's
    #: folders at the front of ``sys.path`` as pytest's run there has them (:func:`import_path`).
    located: dict[str, str | None] = field(default_factory=dict)

    def has(self, module: str) -> bool:
        return self.modules.get(module) is not None


def probe(
    env: PythonEnv, workspace: Path | None = None, environ: Mapping[str, str] | None = None
) -> Probe:
    """Ask ``env``'s interpreter for its version, tools and pytest plugins; with ``workspace``,
    also where each of :func:`project_packages` is imported from, on :func:`import_path`
    (``environ``'s ``PYTHONPATH``, default the process's), all in one run of the interpreter.

    Kept for the process while the interpreter file and its site-packages folder are unchanged
    (an install or uninstall there moves the folder's stamp), so it runs once per workspace.
    """
    try:
        stamp = Path(env.python).stat().st_mtime_ns
    except OSError as exc:
        raise PythonEnvError(
            f"the Python interpreter {env.python} cannot be read ({exc.strerror}); "
            "pass --python with a working interpreter"
        ) from exc
    asked = ""
    if workspace is not None:
        names = project_packages(workspace)
        if names:
            front = import_path(workspace, os.environ if environ is None else environ)
            asked = json.dumps({"front": front, "names": sorted(names)})
    key = (env.python, stamp, asked)
    kept = _PROBES.get(key)
    if kept is not None and _stamp(kept[1].purelib) == kept[0]:
        return kept[1]
    found = _probe(env.python, asked, workspace if asked else None)
    site = _stamp(found.purelib)
    with _PROBES_LOCK:
        _PROBES[key] = (site, found)
        if asked:  # the same facts, for a caller that does not ask about packages
            _PROBES[(env.python, stamp, "")] = (site, replace(found, located={}))
        while len(_PROBES) > 64:
            del _PROBES[next(iter(_PROBES))]
    return found


#: Probes kept: (interpreter, its stamp, the packages asked about) -> (site-packages' stamp, it).
_PROBES: dict[tuple[str, int, str], tuple[int, Probe]] = {}
_PROBES_LOCK = threading.Lock()


def _stamp(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns if path else 0
    except OSError:
        return 0


def _probe(python: str, asked: str, cwd: Path | None) -> Probe:
    try:
        out = subprocess.run(
            [python, "-I", "-c", _PROBE, *([asked] if asked else [])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )
        data = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        data = None
    if not isinstance(data, dict):
        raise PythonEnvError(
            f"{python} did not run as a Python interpreter; pass --python with the project's "
            "interpreter (e.g. .venv/bin/python)"
        )
    plugins = tuple((str(n), str(d)) for n, d in data.get("pytest_plugins") or [])
    modules = dict(data["modules"])
    located = data.get("located") or {}
    return Probe(
        version=str(data["version"]),
        modules=modules,
        pytest_plugins=plugins,
        purelib=str(data.get("purelib") or ""),
        located={str(n): (str(w) if w else None) for n, w in located.items()},
    )
