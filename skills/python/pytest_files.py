"""The project's files as pytest looks at them: the files it walks (:func:`project_files`:
no hidden folders, virtualenvs, build output), which of them it collects as test files,
doctest modules or doctest text files, and which are the tests' own files
(:func:`test_side`).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from phasegraph.skills.python.imports.graph import under_any
from phasegraph.skills.python.pytest_config import PytestConfig

# pytest's own default norecursedirs (hidden folders are skipped as well), and virtualenvs.
_SKIPPED = ("*.egg", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")
_SKIPPED_EXACT = frozenset({"__pycache__", "site-packages"})


def project_files(workspace: Path) -> list[str]:
    """The workspace's own files (workspace-relative), as pytest would look at them: no
    hidden folders, virtualenvs, build output or ``node_modules``; symlinks are not followed."""
    out: list[str] = []
    for folder, dirs, names in os.walk(workspace):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not _skipped(here / d))
        rel = here.relative_to(workspace).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        out += [f"{prefix}{n}" for n in sorted(names) if not (here / n).is_symlink()]
    return out


def _skipped(folder: Path) -> bool:
    name = folder.name
    if name.startswith(".") or name in _SKIPPED_EXACT or folder.is_symlink():
        return True
    return any(fnmatch.fnmatch(name, p) for p in _SKIPPED) or (folder / "pyvenv.cfg").exists()


def _matches(rel: str, pattern: str) -> bool:
    """pytest's ``fnmatch_ex``: a pattern without a slash matches the file's name."""
    if "/" not in pattern:
        return fnmatch.fnmatch(PurePosixPath(rel).name, pattern)
    return fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(f"/{rel}", f"*/{pattern}")


def is_test_file(rel: str, patterns: Sequence[str]) -> bool:
    name = PurePosixPath(rel).name
    if name in ("conftest.py", "__init__.py") or not rel.endswith(".py"):
        return False
    return any(_matches(rel, p) for p in patterns)


def is_doctest_module(rel: str) -> bool:
    """A Python file ``--doctest-modules`` collects (all but ``setup.py``, ``__main__.py``)."""
    return PurePosixPath(rel).name not in ("setup.py", "__main__.py")


def is_doctest_text(rel: str, config: PytestConfig) -> bool:
    return any(_matches(rel, g) for g in config.doctest_globs)


def test_side(known: set[str], candidates: Sequence[str]) -> frozenset[str]:
    """The files of the tests, whose run-time reads count (``reads``): the test files, the
    conftest.py files, and the Python files in (or under) a folder holding a test file, but
    the workspace's top (where a package's own modules may sit beside a test)."""
    folders = {PurePosixPath(t).parent.as_posix() for t in candidates} - {"."}
    conftests = {f for f in known if PurePosixPath(f).name == "conftest.py"}
    helpers = {f for f in known if folders and under_any(f, folders)}
    return frozenset({*candidates, *conftests, *helpers})
