"""The project's own top-level packages, where the workspace defines them, and the folders its
pytest run puts at the front of ``sys.path`` to import them from."""

from __future__ import annotations

import keyword
import os
from collections.abc import Mapping
from pathlib import Path

from phasegraph.skills.python.pytest_config import pytest_config


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
