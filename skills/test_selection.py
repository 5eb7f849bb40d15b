"""Targeted tests: the test files a run's writes can reach, through the project's import graph.

A test file is selected when it imports a written file, directly or through the project's
own modules (transitively), its package's ``__init__.py`` files or the ``conftest.py`` files
above it; a test file the run writes is selected too, and so is every test under a written
``conftest.py``. A written file that is not Python (a data file) is reached by the files
that name it in a string. The graph is read from the source with :mod:`ast` (nothing is
imported), each file's imports cached by its content's sha256.

The selection depends only on the files the run does not write and on the list of written
files (which count as present even before they exist), so the baseline, taken before any
write, and the after-run check select the same tests. Nothing selected, or a write to
pytest's configuration, means the whole suite: never zero tests.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import fnmatch
import hashlib
import json
import os
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.workspace import atomic_write

#: Why a targeted run ran the whole suite when no test reaches what the run writes.
WHOLE_SUITE = "nothing selected: whole suite"

#: Files whose change can change what pytest collects or how: the whole suite runs.
CONFIG_FILES = frozenset(
    {"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "pyproject.toml"}
    | {"tox.ini", "setup.cfg"}
)
_DEFAULT_PATTERNS = ("test_*.py", "*_test.py")
# pytest's own default norecursedirs (hidden folders are skipped as well), and virtualenvs.
_SKIPPED = ("*.egg", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")
_SKIPPED_EXACT = frozenset({"__pycache__", "site-packages"})
_FILE_NAME = re.compile(r"[\w.\-/]*\w\.\w+")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Selection:
    """What a targeted run_pytest runs, and why."""

    #: The pytest paths to run (test files, or node ids given in ``paths``); empty: the
    #: paths as given (the whole suite), as ``fallback`` says.
    files: tuple[str, ...]
    #: For each selected file, the chain that reaches a written file.
    why: dict[str, str] = field(default_factory=dict)
    #: Why the whole suite runs instead (``None`` when ``files`` holds the selection).
    fallback: str | None = None
    #: How many test files were considered (those within the given paths or testpaths).
    considered: int = 0
    #: The written files the selection was made for.
    written: tuple[str, ...] = ()

    def as_data(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "why": dict(self.why),
            "fallback": self.fallback,
            "considered": self.considered,
            "written": list(self.written),
        }


@dataclass(frozen=True)
class PytestConfig:
    """The parts of the project's pytest configuration the selection needs."""

    testpaths: tuple[str, ...] = ()
    python_files: tuple[str, ...] = _DEFAULT_PATTERNS
    pythonpath: tuple[str, ...] = ()


def select_tests(
    workspace: Path,
    written: Sequence[str],
    *,
    paths: Sequence[str] = (),
    cache: Path | None = None,
) -> Selection:
    """The test files (within ``paths``, else testpaths, else the workspace) that import one
    of ``written`` (workspace-relative), with why; see the module's docstring."""
    written = tuple(dict.fromkeys(PurePosixPath(w).as_posix() for w in written))
    config = pytest_config(workspace)
    files = project_files(workspace)
    known = {f for f in files if f.endswith(".py")} | {w for w in written if w.endswith(".py")}
    scope = [p.split("::", 1)[0].rstrip("/") for p in paths] or list(config.testpaths)
    candidates = sorted(
        f
        for f in known
        if _is_test_file(f, config.python_files) and (not scope or _under_any(f, scope))
    )
    configs = sorted(w for w in written if w in CONFIG_FILES)
    if configs:
        fallback = f"the run writes pytest's configuration ({', '.join(configs)}): whole suite"
        return Selection((), {}, fallback, len(candidates), written)
    parsed = _parse_all(workspace, sorted(known - set(written)), cache)
    graph = _Graph(known, config, parsed)
    hops = graph.reaching(written)
    why: dict[str, str] = {}
    for test in candidates:
        if test in written:
            why[test] = "written by the run"
        elif parsed.get(test, {}).get("error"):
            why[test] = f"could not be parsed ({parsed[test]['error']}): selected to be safe"
        elif test in hops:
            why[test] = _chain(test, hops)
    chosen = _as_paths(paths, why)
    if not chosen:
        return Selection((), {}, WHOLE_SUITE, len(candidates), written)
    return Selection(tuple(chosen), why, None, len(candidates), written)


def _as_paths(paths: Sequence[str], why: dict[str, str]) -> list[str]:
    """The selected files as pytest paths: a node id given in ``paths`` stays a node id."""
    exact = [p for p in paths if "::" in p or p.endswith(".py")]
    out = [p for p in exact if p.split("::", 1)[0] in why]
    files = {p.split("::", 1)[0] for p in exact}
    out += [f for f in why if f not in files]
    return sorted(dict.fromkeys(out))


def _under_any(rel: str, folders: Iterable[str]) -> bool:
    for folder in folders:
        folder = folder.removeprefix("./")
        if folder in ("", ".") or rel == folder or rel.startswith(f"{folder}/"):
            return True
    return False


def _is_test_file(rel: str, patterns: Sequence[str]) -> bool:
    name = PurePosixPath(rel).name
    if name in ("conftest.py", "__init__.py"):
        return False
    return any(fnmatch.fnmatch(rel if "/" in p else name, p) for p in patterns)


def pytest_config(workspace: Path) -> PytestConfig:
    """testpaths, python_files and pythonpath from the first of pytest's configuration files
    in the workspace that configures pytest (pytest's own order)."""
    candidates = (
        ("pytest.ini", "pytest"),
        (".pytest.ini", "pytest"),
        ("pyproject.toml", ""),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    )
    for name, section in candidates:
        path = workspace / name
        if not path.is_file() or path.is_symlink():
            continue
        found = _toml_options(path) if not section else _ini_options(path, section)
        if found is not None:
            return PytestConfig(
                testpaths=_words(found.get("testpaths")),
                python_files=_words(found.get("python_files")) or _DEFAULT_PATTERNS,
                pythonpath=_words(found.get("pythonpath")),
            )
    return PytestConfig()


def _toml_options(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    options = data.get("tool", {}).get("pytest", {}).get("ini_options")
    return options if isinstance(options, dict) else None


def _ini_options(path: Path, section: str) -> dict[str, Any] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    return dict(parser[section]) if parser.has_section(section) else None


def _words(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


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


def _parse_all(workspace: Path, files: list[str], cache: Path | None) -> dict[str, dict[str, Any]]:
    """Each file's imports and file-like strings, from the cache when its content is known."""
    kept = _load_cache(cache)
    fresh: dict[str, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for rel in files:
        try:
            data = (workspace / rel).read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest()
        found = kept.get(digest)
        if found is None:
            found = parse_source(data)
        fresh[digest] = found
        out[rel] = found
    if cache is not None and fresh != kept:
        blob = json.dumps({"version": _CACHE_VERSION, "files": fresh}, sort_keys=True).encode()
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            atomic_write(cache / "imports.json", blob)
    return out


def _load_cache(cache: Path | None) -> dict[str, dict[str, Any]]:
    if cache is None:
        return {}
    try:
        found = json.loads((cache / "imports.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or found.get("version") != _CACHE_VERSION:
        return {}
    files = found.get("files")
    return files if isinstance(files, dict) else {}


def parse_source(data: bytes) -> dict[str, Any]:
    """A module's imports (``[module, names, level]``, ``pytest_plugins`` included) and the
    file names its strings mention; ``error`` when it does not parse."""
    try:
        module = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError) as exc:
        return {"imports": [], "names": [], "error": f"{type(exc).__name__}: {exc}"}
    imports: list[list[Any]] = []
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            imports += [[alias.name, [], 0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append([node.module or "", [a.name for a in node.names], node.level])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets):
                imports += [[p, [], 0] for p in _strings(node.value)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if len(text) < 300 and _FILE_NAME.fullmatch(text):
                names.add(PurePosixPath(text).name)
    return {"imports": imports, "names": sorted(names)}


def _strings(node: ast.expr | None) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []


#: One edge of the graph, as the reverse search keeps it: (the file it leads to, what it says).
Hop = tuple[str, str]


class _Graph:
    """Which project files each file loads when it runs, and how (for the why)."""

    def __init__(
        self, known: set[str], config: PytestConfig, parsed: dict[str, dict[str, Any]]
    ) -> None:
        self.known = known
        self.parsed = parsed
        self.patterns = config.python_files
        roots = ["", "src", *(p.strip("/").removeprefix("./") for p in config.pythonpath)]
        self.roots = list(dict.fromkeys("" if r == "." else r for r in roots))

    def reaching(self, written: Sequence[str]) -> dict[str, Hop]:
        """Every file that loads a written file, directly or not: its first hop toward one
        (the shortest chain, found breadth-first from the written files)."""
        into: dict[str, list[tuple[str, str]]] = {}  # file -> [(file that loads it, label)]
        names: dict[str, list[str]] = {}
        for w in written:
            if not w.endswith(".py"):
                names.setdefault(PurePosixPath(w).name, []).append(w)
        for rel in sorted(self.known):
            for target, label in self.edges(rel, names):
                into.setdefault(target, []).append((rel, label))
        hops: dict[str, Hop] = {}
        queue = deque(w for w in written)
        seen = set(written)
        while queue:
            target = queue.popleft()
            for source, label in into.get(target, []):
                if source not in seen:
                    seen.add(source)
                    hops[source] = (target, label)
                    queue.append(source)
        return hops

    def edges(self, rel: str, names: dict[str, list[str]]) -> list[tuple[str, str]]:
        """(file, label) for what ``rel`` loads: its imports, its package's ``__init__.py``
        files, the conftest.py files above a test file, and the written data files it names."""
        info = self.parsed.get(rel, {})
        out: list[tuple[str, str]] = []
        for module, imported, level in info.get("imports", []):
            out += self._imports(rel, module, imported, level)
        parts = PurePosixPath(rel).parts
        for depth in range(len(parts) - 1, 0, -1):
            init = "/".join([*parts[:depth], "__init__.py"])
            if init == rel or init not in self.known:
                break
            out.append((init, f"loads {init}"))
        if _is_test_file(rel, self.patterns):
            for depth in range(len(parts) - 1, -1, -1):
                conftest = "/".join([*parts[:depth], "conftest.py"])
                if conftest in self.known:
                    out.append((conftest, f"uses {conftest}"))
        mentioned = set(info.get("names", []))
        out += [(w, f"names {n!r}") for n, ws in names.items() if n in mentioned for w in ws]
        return out

    def _imports(
        self, rel: str, module: str, imported: list[str], level: int
    ) -> list[tuple[str, str]]:
        if level:
            base = PurePosixPath(rel).parent
            for _ in range(level - 1):
                base = base.parent
            if level - 1 > len(PurePosixPath(rel).parent.parts):
                return []  # beyond the workspace: not the project's
            roots = ["" if str(base) == "." else base.as_posix()]
            prefix = "." * level
            parts = module.split(".") if module else []
        else:
            roots = [*self.roots, self._basedir(rel)]
            prefix = ""
            parts = module.split(".")
        out = self._resolve(roots, parts, prefix)
        for name in imported:
            if name != "*":
                out += self._resolve(roots, [*parts, name], prefix, only_last=True)
        return out

    def _resolve(
        self, roots: list[str], parts: list[str], prefix: str, *, only_last: bool = False
    ) -> list[tuple[str, str]]:
        """The files importing ``parts`` runs (its packages' ``__init__.py``, then the module),
        in every root where the module exists."""
        out: list[tuple[str, str]] = []
        for root in dict.fromkeys(roots):
            chain: list[tuple[str, str]] = []
            if not parts:
                init = f"{root}/__init__.py" if root else "__init__.py"
                if init in self.known:
                    out.append((init, prefix))
                continue
            for depth in range(1, len(parts) + 1):
                stem = "/".join([root, *parts[:depth]] if root else parts[:depth])
                label = prefix + ".".join(parts[:depth])
                init, single = f"{stem}/__init__.py", f"{stem}.py"
                if depth == len(parts) and single in self.known:
                    chain.append((single, label))
                elif init in self.known:
                    chain.append((init, label))
                elif depth == len(parts):
                    chain = []  # not a module here (a name inside its package, or elsewhere)
            out += chain[-1:] if only_last else chain
        return out

    def _basedir(self, rel: str) -> str:
        """The folder pytest's default import mode puts on sys.path for ``rel``: the first one
        up from it that is not a package."""
        folder = PurePosixPath(rel).parent
        while str(folder) != "." and f"{folder.as_posix()}/__init__.py" in self.known:
            folder = folder.parent
        return "" if str(folder) == "." else folder.as_posix()


def _chain(test: str, hops: dict[str, Hop]) -> str:
    """``imports pkg.b, which imports pkg.a (written: src/pkg/a.py)``."""
    said: list[str] = []
    here = test
    while here in hops:
        here, label = hops[here]
        said.append(
            label if label.startswith(("uses ", "loads ", "names ")) else f"imports {label}"
        )
    return f"{', which '.join(said)} (written: {here})"
