"""The ``[tool.phasegraph]`` table of a workspace's ``pyproject.toml``: the run options' defaults.

A flag given on the command line wins, then the table, then phasegraph's built-in default.
Every command that takes ``-w`` reads the table of that workspace and takes the keys it has
a flag for (``runs`` and ``history`` take ``db``; ``run`` takes them all). A key it does not
know, or a value of the wrong type, is bad input: exit 2, naming the file, the key and the
fix, before anything runs.

```toml
[tool.phasegraph]
strict = true
baseline = "before"
step_timeout = 300
```
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegraph.graph.durable.persistence import is_postgres
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.guards.workspace import read_toml

TABLE = "tool.phasegraph"


@dataclass(frozen=True)
class Key:
    """One key of the table: the ``argparse`` destination it fills, and how it is checked."""

    dest: str
    expects: str
    """What a good value is, as the error says it."""
    example: str
    """A line of TOML that sets it."""
    check: Callable[[object], bool]


def _bool(value: object) -> bool:
    return isinstance(value, bool)


def _text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _seconds(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 < value < float("inf")


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _one_of(*choices: str) -> Callable[[object], bool]:
    return lambda value: value in choices


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(_text(item) for item in value)


#: The keys, in the order the README lists them.
KEYS: dict[str, Key] = {
    "strict": Key("strict", "true or false", "strict = true", _bool),
    "baseline": Key(
        "baseline", 'one of "auto", "before"', 'baseline = "before"', _one_of("auto", "before")
    ),
    "step_timeout": Key(
        "step_timeout", "a number of seconds above 0", "step_timeout = 300", _seconds
    ),
    "retries": Key("retries", "a whole number of attempts, 1 or more", "retries = 2", _count),
    "on_stop": Key(
        "on_stop", 'one of "keep", "restore"', 'on_stop = "restore"', _one_of("keep", "restore")
    ),
    "python": Key(
        "python",
        "a path to the project's interpreter or virtualenv (relative to the workspace)",
        'python = ".venv"',
        _text,
    ),
    "db": Key(
        "db",
        "a SQLite path (relative to the workspace) or a postgresql:// URL",
        'db = ".phasegraph/state.sqlite"',
        _text,
    ),
    "allow_hosts": Key(
        "allow_host",
        "a list of host names, addresses or networks",
        'allow_hosts = ["intranet"]',
        _texts,
    ),
    "model": Key("model", "a chat model, PROVIDER:NAME", 'model = "openai:gpt-4.1"', _text),
    "base_url": Key(
        "base_url",
        "an OpenAI-compatible endpoint's URL",
        'base_url = "http://localhost:8000/v1"',
        _text,
    ),
    "api_key_env": Key(
        "api_key_env", "the name of an environment variable", 'api_key_env = "MY_KEY"', _text
    ),
}

_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*phasegraph\s*[\].]", re.MULTILINE)


def project_defaults(workspace: Path) -> dict[str, Any]:
    """The ``[tool.phasegraph]`` table of ``workspace``'s ``pyproject.toml``, checked, its
    paths made absolute; ``{}`` when there is none. Raises :class:`PreflightError` naming the
    file, the key and the fix."""
    path = workspace / "pyproject.toml"
    data = read_toml(path)
    if not data:
        _unreadable(path)
        return {}
    tool = data.get("tool")
    table = tool.get("phasegraph") if isinstance(tool, dict) else None
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise PreflightError(
            f"{path}: {TABLE} is not a table; write it as [{TABLE}] with one key per line "
            f"(e.g. {KEYS['strict'].example}) (nothing was run)"
        )
    for name, value in table.items():
        _check(path, name, value)
    return {name: _absolute(name, value, workspace) for name, value in table.items()}


def _unreadable(path: Path) -> None:
    """A pyproject that is there but could not be read must not silently drop its table."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return
    if _HEADER.search(text):
        raise PreflightError(
            f"{path} has a [{TABLE}] table but could not be read as TOML (a syntax error, or "
            "larger than phasegraph reads); fix the file, e.g. check it with "
            f"`python -c \"import tomllib; tomllib.load(open('{path}', 'rb'))\"` (nothing was run)"
        )


def _check(path: Path, name: str, value: object) -> None:
    key = KEYS.get(name)
    if key is None:
        close = difflib.get_close_matches(name.replace("-", "_"), KEYS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise PreflightError(
            f"{path}: [{TABLE}] has an unknown key {name!r}; {hint}the keys are "
            f"{', '.join(KEYS)}; rename or remove it (nothing was run)"
        )
    if not key.check(value):
        raise PreflightError(
            f"{path}: [{TABLE}] {name} = {_shown(value)} is not {key.expects}; write it as, "
            f"e.g., {key.example} (nothing was run)"
        )


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _absolute(name: str, value: Any, workspace: Path) -> Any:
    """A path in the table means a path from the workspace, wherever phasegraph is run."""
    if name == "python":
        return (workspace / Path(value).expanduser()).absolute()
    if name == "db" and not is_postgres(value):
        return str((workspace / Path(value).expanduser()).absolute())
    return value


def apply_project_defaults(args: argparse.Namespace) -> None:
    """Fill ``args``' options that were not given on the command line from the table of its
    ``-w`` workspace. Options the command has no flag for are left alone; the table is
    checked whole all the same."""
    workspace = getattr(args, "workspace", None)
    if not isinstance(workspace, Path) or not workspace.is_dir():
        return  # the command says what is wrong with its -w itself
    table: Mapping[str, Any] = project_defaults(workspace)
    for name, value in table.items():
        dest = KEYS[name].dest
        if hasattr(args, dest) and getattr(args, dest) is None:
            setattr(args, dest, value)
