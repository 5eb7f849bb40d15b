"""The project's packaging layout and the one Python module resolver: which dotted module a
file of the project is, and which files a dotted module name stands for.

:func:`project_layout` reads what the packaging says (:class:`Layout`: setuptools
``package-dir``, hatch ``sources``, setup.cfg's ``package_dir``; a workspace that is itself a
package, with an ``__init__.py`` at its top, under its folder's name; the project's scripts and
``pytest11`` plugins). :func:`module_name` gives a file's dotted name (its folders count while
they hold an ``__init__.py``, or below a package mapping of the layout), for the rename
recipe; :class:`ModuleResolver` goes the other way for the import graph
(:mod:`phasegraph.skills.python.imports.graph`): the files importing a dotted name runs, wherever
the module exists (a dotted name resolves in every folder of the project, whatever ``sys.path``
holds, and through the layout's mappings). Both read a file's module parts the same way
(:func:`module_parts`).
"""

from __future__ import annotations

import configparser
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.guards.workspace import read_toml


@dataclass(frozen=True)
class Layout:
    """What the project's packaging says about its modules."""

    #: (module prefix, folder): ``phasegraph.x`` lives in ``./x`` for (("phasegraph",), "").
    mappings: tuple[tuple[tuple[str, ...], str], ...] = ()
    #: The project's console and GUI scripts (a subprocess running one runs its code).
    scripts: frozenset[str] = frozenset()
    #: The project's ``pytest11`` entry points (plugins every session loads).
    pytest11: tuple[str, ...] = ()


def project_layout(workspace: Path, known: set[str]) -> Layout:
    """Package mappings, scripts and pytest plugins from pyproject.toml and setup.cfg; a
    workspace with an ``__init__.py`` is a package named after its folder."""
    mappings: list[tuple[tuple[str, ...], str]] = []
    scripts: set[str] = set()
    plugins: list[str] = []
    data = read_toml(workspace / "pyproject.toml")
    tool = _table(data, "tool")
    for prefix, folder in _table(_table(tool, "setuptools"), "package-dir").items():
        mappings.append((_dotted_parts(prefix), str(folder)))
    hatch = _table(tool, "hatch")
    for table in (
        _table(hatch, "build"),
        _table(_table(_table(hatch, "build"), "targets"), "wheel"),
    ):
        for folder, prefix in _table(table, "sources").items():
            mappings.append((_dotted_parts(str(prefix).replace("/", ".")), folder))
    project = _table(data, "project")
    poetry = _table(tool, "poetry")
    for table in (_table(project, "scripts"), _table(project, "gui-scripts")):
        scripts |= set(table)
    scripts |= set(_table(poetry, "scripts"))
    for table in (_table(project, "entry-points"), _table(poetry, "plugins")):
        plugins += [f"{k} = {v}" for k, v in _table(table, "pytest11").items()]
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    with contextlib.suppress(OSError, UnicodeDecodeError, configparser.Error):
        if not (workspace / "setup.cfg").is_symlink():
            cfg.read_string((workspace / "setup.cfg").read_text(encoding="utf-8"))
    if cfg.has_option("options", "package_dir"):
        for line in cfg.get("options", "package_dir").splitlines():
            prefix, eq, folder = line.partition("=")
            if eq:
                mappings.append((_dotted_parts(prefix.strip()), folder.strip()))
    if cfg.has_section("options.entry_points"):
        entry = cfg["options.entry_points"]
        for group in ("console_scripts", "gui_scripts"):
            lines = entry.get(group, "").splitlines()
            scripts |= {line.partition("=")[0].strip() for line in lines if "=" in line}
        plugins += [line.strip() for line in entry.get("pytest11", "").splitlines() if line.strip()]
    if "__init__.py" in known and workspace.name.isidentifier():
        mappings.append(((workspace.name,), ""))
    cleaned = tuple((prefix, _folder(folder)) for prefix, folder in mappings if prefix)
    return Layout(tuple(dict.fromkeys(cleaned)), frozenset(scripts - {""}), tuple(plugins))


def _folder(text: str) -> str:
    folder = PurePosixPath(text.strip() or ".").as_posix()
    return "" if folder == "." else folder


def _table(data: object, key: str) -> dict[str, Any]:
    found = data.get(key) if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _dotted_parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.strip().split(".") if p)


def module_parts(rel: str) -> tuple[tuple[str, ...], bool]:
    """The dotted parts of the workspace file ``rel`` read from the workspace's top (its
    folders, then its name up to the first dot, ``__init__`` left out), and whether it is a
    package (``__init__``): ``src/pkg/a.py`` is ``("src", "pkg", "a")``."""
    path = PurePosixPath(rel)
    stem = path.name.split(".", 1)[0]
    package = stem == "__init__"
    return (*path.parent.parts, *([] if package else [stem])), package


def module_name(
    rel: str, is_file: Callable[[str], bool], layout: Layout | None = None
) -> tuple[str, bool]:
    """The dotted module of the workspace file ``rel`` and whether it is a package
    (``__init__``): its folders count while they hold an ``__init__.py``, so ``src/pkg/a.py``
    is ``pkg.a``. With a ``layout``, a file under one of its package mappings (the deepest
    folder first) is the mapping's module followed by its parts below that folder, whether or
    not they hold an ``__init__.py``, as :class:`ModuleResolver` finds it (``lib/x/a.py``
    under ``package-dir = {"pkg" = "lib"}`` is ``pkg.x.a``)."""
    path = PurePosixPath(rel)
    if layout is not None:
        by_depth = sorted(layout.mappings, key=lambda m: -len(PurePosixPath(m[1]).parts))
        for prefix, root in by_depth:
            if path.is_relative_to(root):
                inner, package = module_parts(path.relative_to(root).as_posix())
                return ".".join([*prefix, *inner]), package
    own, package = module_parts(rel)
    parts = [] if package else [own[-1]]
    folder = path.parent
    while folder.name and is_file((folder / "__init__.py").as_posix()):
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), package


class ModuleResolver:
    """The files a dotted module name stands for in the project (``known``: its Python files),
    each with how importing it reaches it (``imports pkg.calc``)."""

    def __init__(self, known: set[str], layout: Layout) -> None:
        self.known = known
        self.layout = layout
        # Where each dotted module path exists: module parts -> the folders it is under.
        self.bases: dict[tuple[str, ...], list[str]] = {}
        for rel in sorted(known):
            if not rel.endswith(".py"):
                continue
            module, _ = module_parts(rel)
            folders = PurePosixPath(rel).parts
            for start in range(len(module)):
                found = self.bases.setdefault(module[start:], [])
                base = "/".join(folders[:start])
                if base not in found:
                    found.append(base)

    @staticmethod
    def package_folder(rel: str, level: int) -> str | None:
        """The folder a relative import with ``level`` dots in ``rel`` starts from (``""``: the
        workspace's top); ``None`` beyond the workspace (not the project's)."""
        base = PurePosixPath(rel).parent
        if level - 1 > len(base.parts):
            return None
        for _ in range(level - 1):
            base = base.parent
        return "" if str(base) == "." else base.as_posix()

    def relative(self, root: str, parts: list[str], prefix: str) -> list[tuple[str, str]]:
        """The files importing ``parts`` from the folder ``root`` runs (``from . import``: the
        package's ``__init__.py``); ``prefix``: the import's dots, for the label."""
        if not parts:
            init = f"{root}/__init__.py" if root else "__init__.py"
            return [(init, f"imports {prefix}")] if init in self.known else []
        return self._chain(root, parts, prefix)

    def absolute(self, parts: list[str]) -> list[tuple[str, str]]:
        """The files importing ``parts`` runs (its packages' ``__init__.py``, then the
        module), wherever the module exists."""
        return [hop for chain in self.chains(parts) for hop in chain]

    def chains(self, parts: list[str]) -> list[list[tuple[str, str]]]:
        """For each place the module ``parts`` exists (a folder of the project, a mapping of
        the layout), the files importing it there runs."""
        if not parts:
            return []
        chains = [self._chain(base, parts, "") for base in self.bases.get(tuple(parts), [])]
        for prefix, folder in self.layout.mappings:
            if tuple(parts[: len(prefix)]) != prefix:
                continue
            init = f"{folder}/__init__.py" if folder else "__init__.py"
            head = [(init, f"imports {'.'.join(prefix)}")] if init in self.known else []
            rest = parts[len(prefix) :]
            if not rest:
                chains.append(head)
                continue
            tail = self._chain(folder, rest, "", label_prefix=".".join(prefix))
            if tail:
                chains.append(head + tail)
        return [c for c in chains if c]

    def _chain(
        self, root: str, parts: list[str], prefix: str, *, label_prefix: str = ""
    ) -> list[tuple[str, str]]:
        """The packages' ``__init__.py`` files and the module of ``parts`` under ``root``;
        empty when the module is not there."""
        chain: list[tuple[str, str]] = []
        for depth in range(1, len(parts) + 1):
            stem = "/".join([root, *parts[:depth]] if root else parts[:depth])
            dotted = ".".join(filter(None, [label_prefix, ".".join(parts[:depth])]))
            label = f"imports {prefix}{dotted}"
            init, single = f"{stem}/__init__.py", f"{stem}.py"
            if depth == len(parts) and single in self.known:
                chain.append((single, label))
            elif init in self.known:
                chain.append((init, label))
            elif depth == len(parts):
                return []  # not a module here (a name inside its package, or elsewhere)
        return chain
