"""The environments nox and tox keep (``.nox/<session>/``, ``.tox/<env>/``) as the project's
interpreter: which of them the tests run with, decided by the folders alone."""

from __future__ import annotations

import re
from pathlib import Path

from phasegraph.skills.python.env.python_env import RUNNER_FOLDERS, PythonEnv, interpreter_in


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
    for folder in RUNNER_FOLDERS.values():
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
            python = interpreter_in(env_dir)
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
