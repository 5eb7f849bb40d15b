"""The checkers' own configuration: which files and sections tell ruff, mypy and pytest what to
check, and whether a run's write changed them.

A check judged under a configuration the run itself wrote is no check of the change (an
``ignore = ["F401"]`` beside a new unused import, ``ignore_errors = true`` beside a type
error), so the verify phase counts each change of its checker's configuration as a new
finding (:func:`config_changes`). A ``conftest.py`` is not configuration here: it is code,
judged by its effect (tests that stop passing or stop running).
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import PurePosixPath
from typing import Any

#: Where a project says how it runs ruff and mypy with no paths given (the paths they check:
#: :mod:`phasegraph.skills.python.checkers.invocation`): the pre-commit hooks and nox sessions
#: (whole files), the tox environments (``[testenv*]``, ``[tool.tox]``).
_INVOCATION_FILES = frozenset({".pre-commit-config.yaml", "noxfile.py"})
#: Per check skill: its own configuration files (the whole file counts), the ``[tool.X]``
#: tables of ``pyproject.toml`` and the ini sections (prefixes) of ``setup.cfg``/``tox.ini``.
_FILES = {
    "run_ruff": frozenset({"ruff.toml", ".ruff.toml"}) | _INVOCATION_FILES,
    "run_mypy": frozenset({"mypy.ini", ".mypy.ini"}) | _INVOCATION_FILES,
    "run_pytest": frozenset({"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml"}),
}
_TOOL_TABLES = {"run_ruff": ("ruff", "tox"), "run_mypy": ("mypy", "tox"), "run_pytest": ("pytest",)}
_INI_SECTIONS = {
    "run_ruff": ("testenv",),
    "run_mypy": ("mypy", "testenv"),
    "run_pytest": ("tool:pytest", "pytest"),
}


def checks_configured_by(rel: str) -> frozenset[str]:
    """The check skills whose configuration the file ``rel`` may hold."""
    path = PurePosixPath(rel)
    name = path.name
    found = {skill for skill, names in _FILES.items() if name in names}
    if name in ("pyproject.toml", "setup.cfg", "tox.ini"):
        found |= set(_TOOL_TABLES) if name == "pyproject.toml" else set(_INI_SECTIONS)
    return frozenset(found)


def config_changes(skill: str, rel: str, before: bytes | None, after: bytes | None) -> str | None:
    """What the write of ``rel`` (``before`` -> ``after``, ``None``: no file) changed in the
    configuration of ``skill``, as one phrase, or ``None`` when it changed none of it."""
    if skill not in checks_configured_by(rel) or before == after:
        return None
    name = PurePosixPath(rel).name
    if name in _FILES[skill]:
        verb = "created" if before is None else "removed" if after is None else "changed"
        what = "how the project runs it" if name in _INVOCATION_FILES else "configuration"
        return f"{rel} ({skill.removeprefix('run_')}'s {what}) {verb} by the run"
    if name == "pyproject.toml":
        changed = [
            f"[tool.{t}]"
            for t in _TOOL_TABLES[skill]
            if _toml_table(before, t) != _toml_table(after, t)
        ]
    else:
        changed = [
            f"[{p}]"
            for p in _INI_SECTIONS[skill]
            if _ini_sections(before, (p,)) != _ini_sections(after, (p,))
        ]
    if not changed:
        return None
    return f"{rel}: {' / '.join(changed)} changed by the run"


def _toml_table(data: bytes | None, table: str) -> Any:
    if data is None:
        return None
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ("unreadable", data)  # unreadable either side: any byte change counts
    tool = parsed.get("tool")
    return tool.get(table) if isinstance(tool, dict) else None


def _ini_sections(data: bytes | None, prefixes: tuple[str, ...]) -> Any:
    if data is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode("utf-8"))
    except (UnicodeDecodeError, configparser.Error):
        return ("unreadable", data)
    return {
        section: dict(parser[section])
        for section in parser.sections()
        if any(section == p or section.startswith((f"{p}-", f"{p}:")) for p in prefixes)
    }
