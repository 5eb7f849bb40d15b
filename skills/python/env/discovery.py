"""Finding the workspace's own Python environment: which interpreter a check runs with.

A project keeps its tools where it installs itself: a ``.venv/``, a uv or
poetry environment, a nox session's or tox environment's folder (``.nox/tests/``,
``.tox/py312/``: :mod:`phasegraph.skills.python.env.runner_envs`). Checks run there, never in
phasegraph's own interpreter unless no environment of the project's can be found, and then
the report says so. Also here: how a path naming an interpreter (``--python``, a plan's
``python:``) is taken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path

from phasegraph.skills.core.errors import PythonEnvError
from phasegraph.skills.python.env.python_env import PythonEnv, interpreter_in, own_env
from phasegraph.skills.python.env.runner_envs import runner_env


def find_python_env(
    workspace: Path,
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PythonEnv:
    """The interpreter checks on ``workspace`` run with, tried in the order of
    :data:`~phasegraph.skills.python.env.python_env.SOURCES`.

    ``explicit`` (``--python``, ``RunOptions.python`` or a plan's ``python:``) is an
    interpreter or a virtualenv folder; a relative one is taken from the workspace.
    Nothing is created or synced: only environments that already exist count.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return PythonEnv(python=_explicit(workspace, explicit), source="--python")
    for folder in (".venv", "venv"):
        found = interpreter_in(workspace / folder)
        if found:
            return PythonEnv(python=found, source=folder)
    active = env.get("VIRTUAL_ENV")
    if active and inside(Path(active), workspace):
        found = interpreter_in(Path(active))
        if found:
            return PythonEnv(python=found, source="VIRTUAL_ENV")
    uv_env = env.get("UV_PROJECT_ENVIRONMENT")
    if uv_env and (workspace / "uv.lock").is_file():
        found = interpreter_in(workspace / uv_env)
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
    found = interpreter_in(path) if path.is_dir() else None
    if found:
        return found
    if path.is_file() and os.access(path, os.X_OK):
        return str(path.absolute())
    raise PythonEnvError(
        f"the Python interpreter {given!r} does not exist or cannot be run; pass --python "
        "with a project's interpreter (e.g. .venv/bin/python) or its virtualenv folder"
    )


def inside(path: Path, root: Path) -> bool:
    """``path`` lies in ``root`` once both have their symbolic links resolved."""
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
    return interpreter_in(Path(line)) if out.returncode == 0 and line else None
