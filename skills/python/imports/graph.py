"""The project's import graph: which of its files each file loads when it runs, and which
files reach a given set of files through it.

The project's files are read with :mod:`ast` (nothing is imported; each file's findings,
:func:`~phasegraph.skills.python.imports.scan.parse_source`, cached by its content's sha256)
into a graph of what loads what (:class:`ImportGraph`). A file reaches another through:

- its imports (``import``, ``from ... import``, ``pytest_plugins``, and
  ``importlib.import_module`` / ``__import__`` / ``pytest.importorskip`` with a literal
  name), transitively through the project's own modules, their packages' ``__init__.py``
  files and the ``conftest.py`` files above a test file. A dotted module name resolves in
  every folder of the project (whatever ``sys.path`` holds), and through the package mappings
  the project declares (:mod:`phasegraph.skills.python.imports.layout`: setuptools ``package-dir``,
  hatch ``sources``; a workspace that is itself a package, with an ``__init__.py`` at its top,
  under its folder's name);
- a dotted string naming a project module (``mock.patch("pkg.calc.add")``,
  ``monkeypatch.setattr("pkg.calc.X", ...)`` import it), or a string naming a written
  file's name (``"tools/gen.py"``);
- where the graph cannot see, it widens. A file that loads code dynamically
  (``importlib.import_module`` / ``__import__`` with a computed name, ``importlib.util``
  specs and loaders, ``runpy``, ``exec`` / ``eval`` / ``compile``, ``pkgutil``, entry
  points), changes the import path (``sys.path``, ``syspath_prepend``, ``site.addsitedir``),
  runs Python or one of the project's scripts in a subprocess (``sys.executable``), or does
  not parse here, may load any module: it reaches every written Python file. A package
  ``__init__.py`` with a module ``__getattr__`` (PEP 562 lazy loading) may import any
  module of its package. A test file, ``conftest.py`` or helper in the tests' folders that
  reads files or runs code at run time
  (:mod:`phasegraph.skills.python.imports.runtime_reads`: a docs page globbed and run,
  documentation examples, a command built at run time) reaches every written file.

Besides what it loads, a file's findings say which project modules it changes
(:meth:`ImportGraph.changes`): one pytest session shares module state across test files, so
importing a file can change what the files that reach another module see. A file changes a
module when, as it is imported, it decorates with or calls a name imported from it
(``@register('beta')``, ``registry.HANDLERS.update(...)``), or assigns to or deletes an
attribute or item of it (``pkg.beta.BASE = 18``, ``HANDLERS['x'] = f``); a test file or a
``conftest.py`` also when such an assignment is in one of its functions (a test that sets
another module's global and never restores it changes what later tests see). The module is
the one the name comes from (and, for a name a module imports from another, that one too).
"""

from __future__ import annotations

import fnmatch
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from phasegraph.skills.python.imports.layout import Layout, ModuleResolver

# The last part of a dotted string that makes it a file name, not a module path.
_EXTENSIONS = frozenset(
    {
        "py",
        "pyi",
        "pyc",
        "pth",
        "txt",
        "md",
        "rst",
        "json",
        "toml",
        "cfg",
        "ini",
        "yaml",
        "yml",
        "csv",
        "tsv",
        "html",
        "xml",
        "lock",
        "log",
        "sh",
        "bat",
        "db",
        "sqlite",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "gz",
        "zip",
        "tar",
        "whl",
        "so",
        "dll",
        "css",
        "js",
        "ts",
        "in",
        "out",
        "j2",
        "tmpl",
    }
)


#: One edge of the graph, as the reverse search keeps it: (the file it leads to, what it says).
Hop = tuple[str, str]


class ImportGraph:
    """Which project files each file loads when it runs, and how (for the why)."""

    def __init__(
        self,
        known: set[str],
        candidates: set[str],
        parsed: dict[str, dict[str, Any]],
        layout: Layout,
        test_side: frozenset[str] = frozenset(),
    ) -> None:
        self.known = known
        self.candidates = candidates
        self.parsed = parsed
        self.layout = layout
        #: The files whose run-time reads count (``reads``: the tests' own files).
        self.test_side = test_side
        #: The files a dotted module name stands for.
        self.modules = ModuleResolver(known, layout)

    def reaching(self, written: Sequence[str]) -> dict[str, Hop]:
        """Every file that can load a written file, directly or not: its first hop toward
        one (the shortest chain, found breadth-first from the written files)."""
        return breadth_first(self.into(written), written)

    def into(self, written: Sequence[str], *, definite: bool = False) -> dict[str, list[Hop]]:
        """For each file, the files that load it and how. ``definite``: the edges of
        :meth:`edges` that name the module they load (no widening to any module)."""
        into: dict[str, list[Hop]] = {}  # file -> [(file that loads it, label)]
        names: dict[str, list[str]] = {}
        for w in written:
            names.setdefault(PurePosixPath(w).name, []).append(w)
        python = [w for w in written if w.endswith(".py")]
        for rel in sorted(self.known):
            for target, label in self.edges(rel, names, python, definite=definite):
                into.setdefault(target, []).append((rel, label))
        return into

    def edges(
        self,
        rel: str,
        names: dict[str, list[str]],
        written: Sequence[str],
        *,
        definite: bool = False,
    ) -> list[tuple[str, str]]:
        """(file, label) for what ``rel`` loads: its imports, its package's ``__init__.py``
        files, the conftest.py files above a test file, the modules its dotted strings name,
        every written module of its package for a package ``__init__.py`` with a module
        ``__getattr__``; unless ``definite``, also the written files it names, and every
        written Python file when it loads code the graph cannot follow, and every written file
        when a file of the tests (:attr:`test_side`) reads or runs at run time what its
        imports do not say (``reads``)."""
        info = self.parsed.get(rel, {})
        out: list[tuple[str, str]] = []
        for module, imported, level in info.get("imports", []):
            out += self._imports(rel, module, imported, level)
        parts = PurePosixPath(rel).parts
        for depth in range(len(parts) - 1, -1, -1):
            init = "/".join([*parts[:depth], "__init__.py"])
            if init == rel or init not in self.known:
                break
            out.append((init, f"loads {init}"))
        if rel in self.candidates:
            for depth in range(len(parts) - 1, -1, -1):
                conftest = "/".join([*parts[:depth], "conftest.py"])
                if conftest in self.known and conftest != rel:
                    out.append((conftest, f"uses {conftest}"))
        for text in info.get("dotted", []):
            out += self._dotted(text)
        if info.get("getattr") and parts[-1] == "__init__.py":
            folder = "/".join(parts[:-1])
            label = "may import any module of its package (a module __getattr__)"
            out += [(f, label) for f in written if f != rel and under_any(f, [folder])]
        if definite:
            return out
        reads = info.get("reads", []) if rel in self.test_side else []
        if reads:  # what it reads or runs may reach any file: the file is selected for any
            out += [(w, reads[0]) for ws in names.values() for w in ws]
        mentioned = set(info.get("names", []))
        out += [(w, f"names {n!r}") for n, ws in names.items() if n in mentioned for w in ws]
        loads = list(info.get("dynamic", []))
        if info.get("error"):  # newer syntax than this interpreter reads, say
            loads.append("it does not parse here")
        scripts = sorted(set(info.get("programs", [])) & self.layout.scripts)
        loads += [f"runs the project's script {s!r}" for s in scripts]
        if loads:
            out += [(w, f"may load any module ({loads[0]})") for w in written]
        return out

    def changes(
        self, rel: str, facts: dict[str, Any] | None = None, *, everywhere: bool = False
    ) -> list[tuple[str, str, bool]]:
        """(file, what, at import) for each project module ``rel`` changes (its ``touches``;
        ``facts``: its findings, when not those of :attr:`parsed`): when it is imported, and,
        ``everywhere``, as its functions run too. The module is the longest prefix of the
        touched name that is one (``pkg.beta.BASE``: ``pkg.beta``; a name of a package, its
        ``__init__.py``), and, for a name a module imports from another, that one too."""
        info = self.parsed.get(rel, {}) if facts is None else facts
        out: dict[str, tuple[str, str, bool]] = {}
        for dotted, level, what, at_import in info.get("touches", []):
            if at_import or everywhere:
                for target in self._touched(rel, dotted.split("."), level, set()):
                    if target != rel and target not in out:
                        out[target] = (target, what, at_import)
        return list(out.values())

    def _touched(
        self, rel: str, parts: list[str], level: int, seen: set[tuple[str, str]]
    ) -> list[str]:
        """The modules of a touched name (``parts``, relative to ``rel`` by ``level`` dots),
        following a name a module imports from another (its re-exports)."""
        root = self.modules.package_folder(rel, level) if level else ""
        if root is None:
            return []  # beyond the workspace: not the project's
        for size in range(len(parts), -1 if level else 0, -1):
            if level:
                found = [f for f, _ in self.modules.relative(root, parts[:size], "")[-1:]]
            else:
                found = [chain[-1][0] for chain in self.modules.chains(parts[:size])]
            if found:
                break
        else:
            return []
        out = list(found)
        if size < len(parts):
            name, rest = parts[size], parts[size + 1 :]
            for module in found:
                if (module, name) in seen:
                    continue
                seen.add((module, name))
                for source, names, lvl in self.parsed.get(module, {}).get("imports", []):
                    if name in names or "*" in names:
                        path = [*filter(None, source.split(".")), name, *rest]
                        out += self._touched(module, path, lvl, seen)
        return list(dict.fromkeys(out))

    def _dotted(self, text: str) -> list[tuple[str, str]]:
        """A dotted string's longest prefix that is a project module (the first part alone
        only when the rest does not read as a file's extension)."""
        parts = text.partition(":")[0].split(".")
        shortest = 1 if parts[-1] not in _EXTENSIONS else 2
        for size in range(len(parts), shortest - 1, -1):
            found = self.modules.absolute(parts[:size])
            if found:
                return [(f, f"names {text!r}") for f, _ in found]
        return []

    def _imports(
        self, rel: str, module: str, imported: list[str], level: int
    ) -> list[tuple[str, str]]:
        parts = module.split(".") if module else []
        if level:
            root = self.modules.package_folder(rel, level)
            if root is None:
                return []  # beyond the workspace: not the project's
            prefix = "." * level
            out = self.modules.relative(root, parts, prefix)
            for name in imported:
                if name != "*":
                    out += self.modules.relative(root, [*parts, name], prefix)[-1:]
            return out
        out = self.modules.absolute(parts)
        for name in imported:
            if name != "*":
                out += [chain[-1] for chain in self.modules.chains([*parts, name])]
        return out


def breadth_first(into: dict[str, list[Hop]], starts: Iterable[str]) -> dict[str, Hop]:
    """Breadth-first from ``starts`` along ``into``: each file reached, and its first hop."""
    hops: dict[str, Hop] = {}
    queue = deque(starts)
    seen = set(queue)
    while queue:
        target = queue.popleft()
        for source, label in into.get(target, []):
            if source not in seen:
                seen.add(source)
                hops[source] = (target, label)
                queue.append(source)
    return hops


def under_any(rel: str, folders: Iterable[str]) -> bool:
    """Whether ``rel`` is in one of ``folders`` (workspace-relative; ``""`` or ``.``: all of it;
    a folder may be a glob, as testpaths may be)."""
    for folder in folders:
        folder = folder.removeprefix("./")
        if folder in ("", ".") or rel == folder or rel.startswith(f"{folder}/"):
            return True
        if any(c in folder for c in "*?["):  # testpaths may be globs
            parts = PurePosixPath(rel).parts
            if any(fnmatch.fnmatch("/".join(parts[:n]), folder) for n in range(1, len(parts) + 1)):
                return True
    return False
