"""What the project's tests would load that is not the project's own: an installed copy of one
of its packages (:func:`foreign_packages`), a pytest plugin its files do not name
(:func:`foreign_plugins`).

Whichever interpreter is found, the tests must import the project's own packages from the
workspace, not a copy installed somewhere (phasegraph's own dependencies, a non-editable
install in a tox environment): :func:`~phasegraph.skills.python.env.probe.probe` with a
workspace asks the interpreter where each of the project's packages comes from, and
:func:`foreign_packages` names those that do not come from the workspace's source.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from phasegraph.skills.python.env.discovery import inside
from phasegraph.skills.python.env.probe import Probe, probe
from phasegraph.skills.python.env.project_packages import project_packages
from phasegraph.skills.python.env.python_env import PythonEnv


@dataclass(frozen=True)
class ForeignPackage:
    """One of the project's packages that its tests would import from elsewhere."""

    name: str
    #: What the interpreter imports it from: a file or folder, or ``built-in``/``frozen``.
    origin: str
    #: Where the workspace defines it (workspace-relative; see :func:`project_packages`).
    defined: tuple[str, ...]
    #: True when the origin lies in the probed interpreter's own site-packages.
    installed_here: bool


def foreign_packages(workspace: Path, found: Probe) -> list[ForeignPackage]:
    """The project's packages that ``found`` (a :func:`probe` with ``workspace``) imports from
    anywhere but the workspace's own source: outside the workspace, or from a
    ``site-packages`` folder (an installed copy, even in an environment inside the workspace).
    An editable install of the workspace imports from its source, so it is fine; a package the
    interpreter cannot import at all is left to the tests to report."""
    defined = project_packages(workspace)
    out = []
    for name, origin in sorted(found.located.items()):
        if origin is None or name not in defined or _from_source(Path(origin), workspace):
            continue
        here = bool(found.purelib) and _under(Path(origin), Path(found.purelib))
        out.append(ForeignPackage(name, origin, tuple(defined[name]), here))
    return out


def _from_source(origin: Path, workspace: Path) -> bool:
    if not origin.is_absolute():  # "built-in", "frozen"
        return False
    if {"site-packages", "dist-packages"} & set(origin.parts):
        return False
    return _under(origin, workspace)


def _under(path: Path, root: Path) -> bool:
    """``path`` lies in ``root``, as written or with symbolic links resolved."""
    as_written = Path(os.path.normpath(path.absolute()))
    return as_written.is_relative_to(os.path.normpath(root.absolute())) or inside(path, root)


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
