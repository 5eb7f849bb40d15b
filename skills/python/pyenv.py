"""The workspace's own Python environment: which interpreter and tools a check runs with.

A project keeps its tools where it installs itself: a ``.venv/``, a uv or
poetry environment, a nox session's or tox environment's folder (``.nox/tests/``,
``.tox/py312/``). Checks run there, never in phasegraph's own interpreter
unless no environment of the project's can be found, and then the report says so.

Whichever interpreter is found, the tests must import the project's own packages from the
workspace, not a copy installed somewhere (phasegraph's own dependencies, a non-editable
install in a tox environment): :func:`probe` with a workspace asks the interpreter where each of
:func:`project_packages` comes from, and :func:`foreign_packages` names those that do not come
from the workspace's source.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from phasegraph.skills.core.errors import PythonEnvError
from phasegraph.skills.python.pytest_config import pytest_config

#: Where each source of an interpreter comes from, in the order they are tried. A nox or tox
#: environment's :attr:`PythonEnv.source` is its folder (``.nox/tests``, ``.tox/py312``).
SOURCES = ("--python", ".venv", "venv", "VIRTUAL_ENV", "uv", "poetry", "nox", "tox", "phasegraph")

#: The folders nox and tox keep their environments in (one sub-folder each), by source.
_RUNNER_FOLDERS = {"nox": ".nox", "tox": ".tox"}

_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"

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
class PythonEnv:
    """The interpreter checks run with, and where it came from."""

    python: str
    """Absolute path of the interpreter."""
    source: str
    """How it was found: one of :data:`SOURCES`, except for a nox or tox environment, whose
    folder it is (``.nox/tests``, ``.tox/py312``); :attr:`kind` is always one of them."""

    @property
    def kind(self) -> str:
        """The entry of :data:`SOURCES` it was found by (``nox`` for ``.nox/tests``)."""
        for kind, folder in _RUNNER_FOLDERS.items():
            if self.source.startswith(folder + "/"):
                return kind
        return self.source

    @property
    def own(self) -> bool:
        """True when this is phasegraph's own interpreter (no project environment was found)."""
        return self.source == "phasegraph"

    @property
    def bin_dir(self) -> Path:
        return Path(self.python).parent

    def project_tool(self, name: str) -> str | None:
        """``name`` from the project environment's scripts folder, if it has it (``None`` in
        phasegraph's own, whose tools are found the usual way)."""
        if self.own:
            return None
        for candidate in (name, f"{name}.exe"):
            path = self.bin_dir / candidate
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
        return None

    def describe(self) -> str:
        """One line for the report: the interpreter and where it came from."""
        where = {
            "--python": "given explicitly",
            ".venv": "the workspace's .venv",
            "venv": "the workspace's venv",
            "VIRTUAL_ENV": "the active virtualenv",
            "uv": "the uv project environment",
            "poetry": "the poetry environment",
            "nox": f"the nox session {self.source}",
            "tox": f"the tox environment {self.source}",
            "phasegraph": "phasegraph's own interpreter: no project environment found "
            "(create .venv in the workspace or pass --python)",
        }.get(self.kind, self.source)
        return f"{self.python} ({where})"

    @classmethod
    def from_dict(cls, raw: Mapping[str, object] | None) -> PythonEnv:
        if not raw or not isinstance(raw.get("python"), str):
            return own_env()
        return cls(python=str(raw["python"]), source=str(raw.get("source") or "--python"))


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


def own_env() -> PythonEnv:
    return PythonEnv(python=sys.executable, source="phasegraph")


def find_python_env(
    workspace: Path,
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PythonEnv:
    """The interpreter checks on ``workspace`` run with, tried in the order of :data:`SOURCES`.

    ``explicit`` (``--python``, ``RunOptions.python`` or a plan's ``python:``) is an
    interpreter or a virtualenv folder; a relative one is taken from the workspace.
    Nothing is created or synced: only environments that already exist count.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return PythonEnv(python=_explicit(workspace, explicit), source="--python")
    for folder in (".venv", "venv"):
        found = _interpreter_in(workspace / folder)
        if found:
            return PythonEnv(python=found, source=folder)
    active = env.get("VIRTUAL_ENV")
    if active and _inside(Path(active), workspace):
        found = _interpreter_in(Path(active))
        if found:
            return PythonEnv(python=found, source="VIRTUAL_ENV")
    uv_env = env.get("UV_PROJECT_ENVIRONMENT")
    if uv_env and (workspace / "uv.lock").is_file():
        found = _interpreter_in(workspace / uv_env)
        if found:
            return PythonEnv(python=found, source="uv")
    if _is_poetry_project(workspace):
        found = _poetry_env(workspace, env)
        if found:
            return PythonEnv(python=found, source="poetry")
    runner = runner_env(workspace)
    if runner:
        return runner
    return own_env()


def runner_env(workspace: Path) -> PythonEnv | None:
    """The nox session's or tox environment's interpreter the tests run with, if there is one.

    Every ``.nox/<session>/`` and ``.tox/<env>/`` holding an interpreter counts (not the hidden
    ones, such as tox's ``.pkg``); the first of them in this order is taken, decided by the
    folders alone (no interpreter is started): one with pytest installed in its own
    site-packages first; then one whose name says it runs the tests (it contains ``test``:
    ``tests``, ``pytest``, ``tests-3-12``; or it names a Python version, as tox's default
    environments do: ``py``, ``py312``, ``py3.12-django``, ``pypy3``, ``3.12``); then the
    newest Python (its ``pyvenv.cfg``); then the folder's name (``.nox/`` before ``.tox/``).
    One without pytest is still taken when no other is there (preflight then says it lacks
    pytest, if the plan runs it).
    """
    found: list[tuple[tuple[bool, bool, tuple[int, ...], str], PythonEnv]] = []
    for folder in _RUNNER_FOLDERS.values():
        base = workspace / folder
        if not base.is_dir():
            continue
        try:
            env_dirs = sorted(base.iterdir())
        except OSError:
            continue
        for env_dir in env_dirs:
            if env_dir.name.startswith(".") or not env_dir.is_dir():
                continue
            python = _interpreter_in(env_dir)
            if python is None:
                continue
            source = f"{folder}/{env_dir.name}"
            key = (
                not _has_pytest(env_dir),
                not _TESTISH.search(env_dir.name),
                _newest_first(_venv_version(env_dir)),
                source,
            )
            found.append((key, PythonEnv(python=python, source=source)))
    return min(found, key=lambda item: item[0])[1] if found else None


#: An environment name that says it runs the tests (see :func:`runner_env`).
_TESTISH = re.compile(
    r"test|^(?:pypy|py)\d*(?:[.\-_]\d+)*(?:[-_]|$)|^\d+(?:\.\d+)+$", re.IGNORECASE
)


def _has_pytest(env_dir: Path) -> bool:
    """pytest is installed in the environment's own site-packages (POSIX or Windows layout)."""
    return (
        any(env_dir.glob("lib/python*/site-packages/pytest/__init__.py"))
        or (env_dir / "Lib" / "site-packages" / "pytest" / "__init__.py").is_file()
    )


def _newest_first(version: tuple[int, ...]) -> tuple[int, ...]:
    """A sort key putting newer versions first and an unknown one (``()``) last."""
    return (0, *(-n for n in version)) if version else (1,)


def _venv_version(env_dir: Path) -> tuple[int, ...]:
    """The environment's Python version from its ``pyvenv.cfg`` (``version`` or virtualenv's
    ``version_info``), ``()`` when it does not say."""
    try:
        text = (env_dir / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    for key in ("version", "version_info"):
        match = re.search(rf"^\s*{key}\s*=\s*(\d+(?:\.\d+)*)", text, re.MULTILINE)
        if match:
            return tuple(int(n) for n in match.group(1).split("."))
    return ()


def unexpanded_problem(given: str) -> str | None:
    """Why an interpreter path a plan (or a served client) names cannot be taken as written
    (``None``: it can). Such a path is taken literally, relative to the workspace: ``~`` and
    ``$VARS`` would mean the server's or the caller's home and environment, so they are
    refused rather than expanded, as is a NUL byte."""
    if "\x00" in given:
        return "the path contains a NUL byte"
    if given.startswith("~"):
        return f"{given!r} starts with '~', which is never expanded here"
    if "$" in given:
        return f"{given!r} holds '$', and environment variables are never expanded here"
    return None


def interpreter_path(workspace: Path, given: str) -> Path:
    """``given`` (absolute, or relative to ``workspace``) as the absolute path it is checked
    and used as: its folders resolved (symlinks, ``..``), its own name kept, since a
    virtualenv's ``bin/python`` is a link to the base interpreter and is run by its name.
    Taken literally: see :func:`unexpanded_problem` first."""
    path = Path(given)
    if not path.is_absolute():
        path = workspace.resolve() / path
    if path.name in ("", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def _explicit(workspace: Path, given: str) -> str:
    path = Path(given).expanduser()
    if not path.is_absolute():
        path = workspace / path
    found = _interpreter_in(path) if path.is_dir() else None
    if found:
        return found
    if path.is_file() and os.access(path, os.X_OK):
        return str(path.absolute())
    raise PythonEnvError(
        f"the Python interpreter {given!r} does not exist or cannot be run; pass --python "
        "with a project's interpreter (e.g. .venv/bin/python) or its virtualenv folder"
    )


def _interpreter_in(folder: Path) -> str | None:
    """The interpreter of the virtualenv at ``folder``, if there is one."""
    for name in (_EXE, "python3"):
        path = folder / _BIN / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.absolute())
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _is_poetry_project(workspace: Path) -> bool:
    if (workspace / "poetry.lock").is_file():
        return True
    try:
        data = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return "poetry" in data.get("tool", {})


def _poetry_env(workspace: Path, environ: Mapping[str, str]) -> str | None:
    """``poetry env info --path``: the project's existing environment (poetry creates none)."""
    poetry = shutil.which("poetry", path=environ.get("PATH"))
    if poetry is None:
        return None
    try:
        out = subprocess.run(
            [poetry, "env", "info", "--path", "--no-interaction"],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(environ),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return _interpreter_in(Path(line)) if out.returncode == 0 and line else None


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


def project_packages(workspace: Path) -> dict[str, list[str]]:
    """The project's own top-level packages, each with the workspace-relative places that
    define it: the folders holding an ``__init__.py`` at the workspace's top or under ``src/``,
    and the modules directly under ``src/``.

    A workspace that is itself a package (an ``__init__.py`` at its top) has no top-level
    folders of its own (they are its sub-packages); a ``src/`` that is a package is one.
    """
    found: dict[str, list[str]] = {}
    src = workspace / "src"
    bases = [] if (workspace / "__init__.py").is_file() else [workspace]
    if src.is_dir() and not (src / "__init__.py").is_file():
        bases.append(src)
    for base in bases:
        try:
            children = sorted(base.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_dir() and (child / "__init__.py").is_file():
                name = child.name
            elif base == src and child.suffix == ".py" and child.is_file():
                name = child.stem
            else:
                continue
            if name.isidentifier() and not keyword.iskeyword(name):
                found.setdefault(name, []).append(child.relative_to(workspace).as_posix())
    return found


def import_path(workspace: Path, environ: Mapping[str, str]) -> list[str]:
    """The folders at the front of ``sys.path`` in the project's pytest run (``python -m
    pytest`` in the workspace), in order: the ``pythonpath`` of its pytest configuration, the
    workspace itself (``-m`` puts the working folder first), then ``PYTHONPATH``'s entries."""
    front = [str(workspace / entry) for entry in pytest_config(workspace).pythonpath]
    front.append(str(workspace))
    front += [
        str(workspace / entry) for entry in environ.get("PYTHONPATH", "").split(os.pathsep) if entry
    ]
    return front


@dataclass(frozen=True)
class ForeignPackage:
    """One of the project's packages that its tests would import from elsewhere."""

    name: str
    #: What the interpreter imports it from: a file or folder, or ``built-in``/``frozen``.
    origin: str
    #: Where the workspace defines it (workspace-relative; see :func:`project_packages`).
    defined: tuple[str, ...]
    #: True when the origin lies in the probed interpreter's own site-packages.
    installed_here: bool


def foreign_packages(workspace: Path, found: Probe) -> list[ForeignPackage]:
    """The project's packages that ``found`` (a :func:`probe` with ``workspace``) imports from
    anywhere but the workspace's own source: outside the workspace, or from a
    ``site-packages`` folder (an installed copy, even in an environment inside the workspace).
    An editable install of the workspace imports from its source, so it is fine; a package the
    interpreter cannot import at all is left to the tests to report."""
    defined = project_packages(workspace)
    out = []
    for name, origin in sorted(found.located.items()):
        if origin is None or name not in defined or _from_source(Path(origin), workspace):
            continue
        here = bool(found.purelib) and _under(Path(origin), Path(found.purelib))
        out.append(ForeignPackage(name, origin, tuple(defined[name]), here))
    return out


def _from_source(origin: Path, workspace: Path) -> bool:
    if not origin.is_absolute():  # "built-in", "frozen"
        return False
    if {"site-packages", "dist-packages"} & set(origin.parts):
        return False
    return _under(origin, workspace)


def _under(path: Path, root: Path) -> bool:
    """``path`` lies in ``root``, as written or with symbolic links resolved."""
    as_written = Path(os.path.normpath(path.absolute()))
    return as_written.is_relative_to(os.path.normpath(root.absolute())) or _inside(path, root)


_NAME = re.compile(r"[-_.]+")


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Pytest_Randomly`` → ``pytest-randomly``)."""
    return _NAME.sub("-", name).lower()


#: Files in which a project declares what it depends on.
_DECLARATIONS = ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "Pipfile")


def declared_names(workspace: Path) -> set[str]:
    """Distribution names the project's own files mention (its dependencies, loosely read)."""
    texts: list[str] = []
    for name in _DECLARATIONS:
        path = workspace / name
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    texts += [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(workspace.glob("requirements*.txt"))[:20]
        if p.is_file()
    ]
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", "\n".join(texts))
    return {normalized(w) for w in words}


def foreign_plugins(env: PythonEnv, workspace: Path) -> list[str]:
    """Entry-point names of pytest plugins that would load into the project's tests but are
    not the project's: in phasegraph's own interpreter, every plugin its files do not name."""
    if not env.own:
        return []
    declared = declared_names(workspace)
    return sorted(
        {name for name, dist in probe(env).pytest_plugins if normalized(dist) not in declared}
    )
