"""mypy's own configuration: whether it names the files to check (``files = ...``), which
mypy then checks when it is given no paths."""

from __future__ import annotations

import configparser
from pathlib import Path

from phasegraph.skills.guards.workspace import read_toml


def mypy_files_setting(workspace: Path) -> str | None:
    """Where mypy's configuration names the files to check (``files = ...``), as a label
    (``[tool.mypy] files``), or ``None``: in mypy's own order, the first file it reads."""
    for name in ("mypy.ini", ".mypy.ini"):
        if (workspace / name).is_file():
            return f"{name} [mypy] files" if _ini_value(workspace / name, "mypy", "files") else None
    pyproject = read_toml(workspace / "pyproject.toml")
    section = pyproject.get("tool", {}).get("mypy")
    if isinstance(section, dict):
        return "[tool.mypy] files" if section.get("files") else None
    setup_cfg = workspace / "setup.cfg"
    if setup_cfg.is_file() and _ini_value(setup_cfg, "mypy", "files"):
        return "setup.cfg [mypy] files"
    return None


def _ini_value(path: Path, section: str, key: str) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return ""
    return parser.get(section, key, fallback="") if parser.has_section(section) else ""
