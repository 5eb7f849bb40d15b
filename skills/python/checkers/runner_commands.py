"""The commands a project's tox environments (``tox.ini``, ``[tool.tox]`` of ``pyproject.toml``)
and nox sessions (``noxfile.py``, read with :mod:`ast`, never run) would run, as words."""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from phasegraph.skills.guards.workspace import MAX_CONFIG_BYTES, read_toml


def tox_commands(workspace: Path) -> list[tuple[str, list[str]]]:
    """Every command of every tox environment, as ``(where, words)``: ``tox.ini``, else the
    ``[tool.tox]`` of ``pyproject.toml`` (its ``legacy_tox_ini`` or native ``env`` tables)."""
    tox_ini = workspace / "tox.ini"
    if tox_ini.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if tox_ini.stat().st_size <= MAX_CONFIG_BYTES:
                return _ini_commands("tox.ini", tox_ini.read_text(encoding="utf-8"))
        return []
    tox = read_toml(workspace / "pyproject.toml").get("tool", {}).get("tox")
    if not isinstance(tox, dict):
        return []
    if isinstance(tox.get("legacy_tox_ini"), str):
        return _ini_commands("pyproject.toml [tool.tox]", tox["legacy_tox_ini"])
    found: list[tuple[str, list[str]]] = []
    tables = [("env_run_base", tox.get("env_run_base"))]
    envs = tox.get("env")
    if isinstance(envs, dict):
        tables += [(f"env.{name}", table) for name, table in envs.items()]
    for name, table in tables:
        commands = table.get("commands") if isinstance(table, dict) else None
        for command in commands if isinstance(commands, list) else []:
            if isinstance(command, list):
                words = [_tox_word(str(w)) for w in command if isinstance(w, str | int)]
                found.append((f"pyproject.toml [tool.tox.{name}]", [w for w in words if w]))
    return found


def _ini_commands(where: str, text: str) -> list[tuple[str, list[str]]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    found: list[tuple[str, list[str]]] = []
    for section in parser.sections():
        if section != "testenv" and not section.startswith("testenv:"):
            continue
        value = parser.get(section, "commands", fallback="")
        for line in value.replace("\\\n", " ").splitlines():
            # A leading "-" lets the command fail; a leading "!" inverts it.
            line = line.strip().lstrip("-!").strip()
            if not line or line.startswith("#"):
                continue
            line = _POSARGS.sub(lambda m: m.group(1) or "", line)
            try:
                words = [_tox_word(w) for w in shlex.split(line)]
            except ValueError:
                continue
            found.append((f"{where} [{section}]", [w for w in words if w]))
    return found


#: ``{posargs}`` (nothing, when tox is run with no arguments) or ``{posargs:DEFAULT}``.
_POSARGS = re.compile(r"\{posargs(?::([^{}]*))?\}")
_POSARGS_DEFAULT = re.compile(r"^\{posargs:(.*)\}$")


def _tox_word(word: str) -> str:
    """A tox command word with its substitutions made where they are known: ``{toxinidir}``
    is the workspace, ``{posargs:DEFAULT}`` its default; any other is dropped (``""``)."""
    default = _POSARGS_DEFAULT.match(word)
    if default:
        return default.group(1)
    word = word.replace("{toxinidir}/", "").replace("{tox_root}/", "")
    word = word.replace("{toxinidir}", ".").replace("{tox_root}", ".")
    return "" if "{" in word else word


def nox_commands(workspace: Path) -> list[tuple[str, list[str]]]:
    """Every ``session.run(...)`` (and ``run_always``) of ``noxfile.py`` whose leading
    arguments are string literals, as ``("noxfile.py session NAME", words)``; the file is
    parsed, never run."""
    path = workspace / "noxfile.py"
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return []
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return []
    found: list[tuple[str, list[str]]] = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run", "run_always")
            ):
                words = _literal_words(node.args)
                if words:
                    found.append((f"noxfile.py session {function.name}", words))
    return found


def _literal_words(args: Sequence[ast.expr]) -> list[str]:
    words: list[str] = []
    for arg in args:  # up to the first that is not a string literal (*session.posargs)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            break
        words.append(arg.value)
    return words
