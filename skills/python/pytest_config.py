"""pytest's configuration, as pytest reads it: the one reader of ``testpaths``,
``python_files``, ``pythonpath`` and ``addopts``.

:func:`pytest_config` takes the first file that configures pytest, in pytest's own order
(``pytest.toml``, ``.pytest.toml``, ``pytest.ini``, ``.pytest.ini``, ``pyproject.toml`` with
``[tool.pytest]`` or ``[tool.pytest.ini_options]``, ``tox.ini``, ``setup.cfg``; the first two
kinds count even without options), and says why pytest could not use it when it cannot.
:func:`read_config_file` reads one of those files; ``addopts`` is split into arguments as
pytest splits it.
"""

from __future__ import annotations

import configparser
import os
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: pytest's configuration files, in pytest's own order of precedence.
CONFIG_ORDER = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)
#: Files whose change can change what pytest collects or how: the whole suite runs.
CONFIG_FILES = frozenset(CONFIG_ORDER)
_DEFAULT_PATTERNS = ("test_*.py", "*_test.py")
_DEFAULT_DOCTEST_GLOBS = ("test*.txt",)


@dataclass(frozen=True)
class PytestConfig:
    """The parts of the project's pytest configuration phasegraph reads."""

    testpaths: tuple[str, ...] = ()
    python_files: tuple[str, ...] = _DEFAULT_PATTERNS
    pythonpath: tuple[str, ...] = ()
    #: ``addopts``, split into arguments as pytest splits it.
    addopts: tuple[str, ...] = ()
    #: The file the options were read from (workspace-relative); ``None``: there is none.
    source: str | None = None
    #: Why pytest could not use the configuration; ``None`` when it can.
    problem: str | None = None
    #: The configuration file pytest uses from a folder above the workspace (which has none
    #: of its own); ``None`` when there is none there either.
    outside: str | None = None

    @property
    def plugins(self) -> tuple[str, ...]:
        """The plugins ``addopts`` loads (``-p NAME``; not ``-p no:NAME``)."""
        out: list[str] = []
        for index, arg in enumerate(self.addopts):
            if arg == "-p" and index + 1 < len(self.addopts):
                name = self.addopts[index + 1]
            elif arg.startswith("-p") and not arg.startswith("--") and len(arg) > 2:
                name = arg[2:]
            else:
                continue
            if not name.startswith("no:"):
                out.append(name)
        return tuple(out)

    @property
    def doctest_modules(self) -> bool:
        return "--doctest-modules" in self.addopts

    @property
    def doctest_globs(self) -> tuple[str, ...]:
        """The text files pytest collects as doctests (its default: ``test*.txt``)."""
        out: list[str] = []
        for index, arg in enumerate(self.addopts):
            if arg == "--doctest-glob" and index + 1 < len(self.addopts):
                out.append(self.addopts[index + 1])
            elif arg.startswith("--doctest-glob="):
                out.append(arg.partition("=")[2])
        return tuple(out) or _DEFAULT_DOCTEST_GLOBS


def pytest_config(workspace: Path) -> PytestConfig:
    """testpaths, python_files, pythonpath and addopts from the first of pytest's
    configuration files in the workspace that configures pytest, in pytest's own order
    (:data:`CONFIG_ORDER`; ``pytest.toml`` and ``pytest.ini`` count even without options)."""
    for name in CONFIG_ORDER:
        path = workspace / name
        if not os.path.lexists(path):
            continue
        options, problem = read_config_file(path)
        if problem:
            return PytestConfig(source=name, problem=problem)
        if options is None:
            continue
        try:
            return PytestConfig(
                testpaths=_words(options.get("testpaths")),
                python_files=_words(options.get("python_files")) or _DEFAULT_PATTERNS,
                pythonpath=_words(options.get("pythonpath")),
                addopts=_words(options.get("addopts")),
                source=name,
            )
        except ValueError as exc:  # shlex: an unclosed quote
            return PytestConfig(source=name, problem=f"{name}: {exc}")
    return PytestConfig(outside=_above(workspace))


def _above(workspace: Path) -> str | None:
    """The configuration file pytest would take from a folder above ``workspace`` (it looks
    upward when the workspace has none), or ``None``."""
    for folder in workspace.resolve().parents:
        for name in CONFIG_ORDER:
            path = folder / name
            if os.path.lexists(path):
                options, problem = read_config_file(path)
                if options is not None or problem:
                    return str(path)
    return None


def read_config_file(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """pytest's options in ``path`` (one of :data:`CONFIG_ORDER`, by name), ``None`` when it
    does not configure pytest; or why pytest could not read it."""
    name = path.name
    if path.is_symlink() or not path.is_file():
        return None, f"{name} is a symbolic link or not a file: not read"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{name}: {exc}"
    if name.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return None, f"{name}: {exc}"
        return _toml_options(name, data)
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        return None, f"{name}: {type(exc).__name__}"
    if name == "setup.cfg":
        if parser.has_section("tool:pytest"):
            return dict(parser["tool:pytest"]), None
        if parser.has_section("pytest"):
            return None, "setup.cfg: a [pytest] section, which pytest refuses"
        return None, None
    if parser.has_section("pytest"):
        return dict(parser["pytest"]), None
    return ({}, None) if name in ("pytest.ini", ".pytest.ini") else (None, None)


def _toml_options(name: str, data: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    if name in ("pytest.toml", ".pytest.toml"):
        table = data.get("pytest")
        if isinstance(table, dict):
            return table, None
        if any(not isinstance(v, dict) for v in data.values()):
            return None, f"{name}: options outside the [pytest] table"
        return {}, None
    tool = data.get("tool", {}).get("pytest", {}) if isinstance(data.get("tool"), dict) else {}
    if not isinstance(tool, dict):
        return None, None
    ini = tool.get("ini_options")
    native = {k: v for k, v in tool.items() if k != "ini_options"}
    if native and ini is not None:
        return None, f"{name}: both [tool.pytest] and [tool.pytest.ini_options]"
    if native:
        return native, None
    return (ini, None) if isinstance(ini, dict) else (None, None)


def _words(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(shlex.split(value))
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()
