"""The workspace's own Python environment: which interpreter and tools a check runs with.

A project keeps its tools where it installs itself: a ``.venv/``, a uv or
poetry environment. Checks run there, never in phasegraph's own interpreter
unless no environment of the project's can be found, and then the report says so.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from phasegraph.skills.errors import PythonEnvError

#: Where each source of an interpreter comes from, in the order they are tried.
SOURCES = ("--python", ".venv", "venv", "VIRTUAL_ENV", "uv", "poetry", "phasegraph")

_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"

# Run by the chosen interpreter: its version, the check tools it has, its pytest plugins.
_PROBE = """\
import importlib.metadata as m, importlib.util as u, json, sys, sysconfig
def version(name):
    try:
        return m.version(name)
    except Exception:
        return None
plugins = []
try:
    for ep in m.entry_points(group="pytest11"):
        plugins.append([ep.name, ep.dist.name if ep.dist else ""])
except Exception:
    pass
print(json.dumps({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "executable": sys.executable,
    "modules": {n: (version(n) or "?") if u.find_spec(n) else None for n in ("pytest", "mypy")},
    "pytest_plugins": plugins,
    "purelib": sysconfig.get_paths()["purelib"],
}))
"""


@dataclass(frozen=True)
class PythonEnv:
    """The interpreter checks run with, and where it came from."""

    python: str
    """Absolute path of the interpreter."""
    source: str
    """One of :data:`SOURCES`: how it was found."""

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
            "phasegraph": "phasegraph's own interpreter: no project environment found "
            "(create .venv in the workspace or pass --python)",
        }[self.source]
        return f"{self.python} ({where})"

    def as_dict(self) -> dict[str, str]:
        return {"python": self.python, "source": self.source}

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
    return own_env()


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


def probe(env: PythonEnv) -> Probe:
    """Ask ``env``'s interpreter for its version, tools and pytest plugins (cached per file)."""
    try:
        stamp = Path(env.python).stat().st_mtime_ns
    except OSError as exc:
        raise PythonEnvError(
            f"the Python interpreter {env.python} cannot be read ({exc.strerror}); "
            "pass --python with a working interpreter"
        ) from exc
    return _probe(env.python, stamp)


@functools.lru_cache(maxsize=32)
def _probe(python: str, stamp: int) -> Probe:
    try:
        out = subprocess.run(
            [python, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
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
    return Probe(
        version=str(data["version"]),
        modules=modules,
        pytest_plugins=plugins,
        purelib=str(data.get("purelib") or ""),
    )


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
