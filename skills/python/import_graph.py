"""The project's import graph: which of its files each file loads when it runs, and which
files reach a given set of files through it.

The project's files are read with :mod:`ast` (nothing is imported; each file's findings,
:func:`parse_source`, cached by its content's sha256, :func:`parse_all`) into a graph of what
loads what (:class:`ImportGraph`). A file reaches another through:

- its imports (``import``, ``from ... import``, ``pytest_plugins``, and
  ``importlib.import_module`` / ``__import__`` / ``pytest.importorskip`` with a literal
  name), transitively through the project's own modules, their packages' ``__init__.py``
  files and the ``conftest.py`` files above a test file. A dotted module name resolves in
  every folder of the project (whatever ``sys.path`` holds), and through the package mappings
  the project declares (:func:`project_layout`: setuptools ``package-dir``, hatch
  ``sources``; a workspace that is itself a package, with an ``__init__.py`` at its top, under
  its folder's name);
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
  reads files or runs code at run time (:mod:`phasegraph.skills.python.runtime_reads`: a docs page
  globbed and run, documentation examples, a command built at run time) reaches every
  written file.

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

import ast
import builtins
import configparser
import contextlib
import fnmatch
import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.guards.workspace import atomic_write, read_toml
from phasegraph.skills.python.runtime_reads import runtime_reads, spelled

_FILE_NAME = re.compile(r"[\w.\-/]*\w\.\w+")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?::[\w.]+)?")
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
_PYTHON_PROGRAM = re.compile(r"(?:python|pypy)(?:\d+(?:\.\d+)*)?(?:\.exe)?")
_CACHE_VERSION = 4
#: The builtins: a name a star import cannot have brought in when the file uses it.
_BUILTINS = frozenset(dir(builtins))

#: Names whose use loads code the import graph cannot follow (a call, or the function
#: itself handed on). ``exec``, ``eval`` and ``compile`` count only as the builtins.
_LOADERS = frozenset(
    {
        "import_module",
        "__import__",
        "importorskip",
        "spec_from_file_location",
        "spec_from_loader",
        "module_from_spec",
        "exec_module",
        "load_module",
        "find_spec",
        "SourceFileLoader",
        "SourcelessFileLoader",
        "ExtensionFileLoader",
        "zipimporter",
        "load_source",
        "load_compiled",
        "load_dynamic",
        "load_package",
        "run_path",
        "run_module",
        "resolve_name",
        "walk_packages",
        "iter_modules",
        "entry_points",
        "iter_entry_points",
        "load_entry_point",
        "import_string",
        "import_object",
        "syspath_prepend",
        "addsitedir",
        "execfile",
    }
)
_BUILTIN_LOADERS = frozenset({"exec", "eval", "compile"})
#: ``sys`` attributes: the import path and hooks (``path`` ...), and ``executable``, the
#: interpreter a test runs Python code in a subprocess with.
_SYS_ATTRS = frozenset({"path", "meta_path", "path_hooks", "path_importer_cache", "executable"})
#: Calls that take a literal module name: an import the graph can follow.
_LITERAL_IMPORTS = frozenset({"import_module", "__import__", "importorskip"})
#: Calls whose first argument (a string) is a command.
_COMMANDS = frozenset(
    {
        "run",
        "Popen",
        "call",
        "check_call",
        "check_output",
        "getoutput",
        "getstatusoutput",
        "system",
        "popen",
        "which",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "spawn",
    }
)


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
        mappings.append((_module_parts(prefix), str(folder)))
    hatch = _table(tool, "hatch")
    for table in (
        _table(hatch, "build"),
        _table(_table(_table(hatch, "build"), "targets"), "wheel"),
    ):
        for folder, prefix in _table(table, "sources").items():
            mappings.append((_module_parts(str(prefix).replace("/", ".")), folder))
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
                mappings.append((_module_parts(prefix.strip()), folder.strip()))
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


def _module_parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.strip().split(".") if p)


def parse_all(workspace: Path, files: list[str], cache: Path | None) -> dict[str, dict[str, Any]]:
    """What each file loads, from the cache when its content is known."""
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
    """What a module loads, as far as its source says:

    - ``imports``: ``[module, names, level]`` (``pytest_plugins`` and literal
      ``import_module`` / ``__import__`` / ``importorskip`` names included);
    - ``names``: the file names its strings mention; ``dotted``: its dotted strings
      (``pkg.calc.add``), which ``mock.patch`` and the like import;
    - ``dynamic``: what loads code the graph cannot follow (``importlib.import_module at
      line 3``); ``programs``: the commands it names (the first word of a command);
    - ``getattr``: whether it has a module ``__getattr__``; ``hooks``: the pytest hooks it
      defines (and ``pytest_plugins``);
    - ``touches``: what it changes in the modules it imports (:func:`_touches`);
    - ``reads``: what it reads or runs at run time that its imports do not say
      (:func:`~phasegraph.skills.python.runtime_reads.runtime_reads`);
    - ``error`` when it does not parse.
    """
    try:
        module = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError) as exc:
        return {"imports": [], "names": [], "error": f"{type(exc).__name__}: {exc}"}
    imports: list[list[Any]] = []
    names: set[str] = set()
    dotted: set[str] = set()
    dynamic: dict[str, int] = {}
    programs: set[str] = set()
    literal: set[int] = set()  # the functions of calls whose module name is a literal
    hooks = [  # a hook assigned counts too: `pytest_collect_file = Sybil(...).pytest()`
        name
        for n in module.body
        for name in _defined(n)
        if name.startswith("pytest_") and name != "pytest_plugins"
    ]
    nodes = list(ast.walk(module))
    for node in nodes:
        if isinstance(node, ast.Import):
            imports += [[alias.name, [], 0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append([node.module or "", [a.name for a in node.names], node.level])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets):
                imports += [[p, [], 0] for p in _strings(node.value)]
                hooks.append("pytest_plugins")
        elif isinstance(node, ast.Call):
            found = _literal_import(node)
            if found is not None:
                imports.append(found)
                literal.add(id(node.func))
            programs |= _command(node)
        elif isinstance(node, ast.List | ast.Tuple) and node.elts:
            programs |= _first_word(node.elts[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if len(text) < 300 and _FILE_NAME.fullmatch(text):
                names.add(PurePosixPath(text).name)
            if len(text) < 200 and _DOTTED.fullmatch(text):
                dotted.add(text)
        if id(node) not in literal:
            use = _loader_use(node)
            if use:
                dynamic.setdefault(use, getattr(node, "lineno", 0))
    for word in sorted(programs):
        if _PYTHON_PROGRAM.fullmatch(PurePosixPath(word).name):
            dynamic.setdefault(f"runs {word!r}", 0)
    return {
        "imports": imports,
        "names": sorted(names),
        "dotted": sorted(dotted),
        "dynamic": [
            f"{use} at line {line}" if line else use
            for use, line in sorted(dynamic.items(), key=lambda kv: (kv[1], kv[0]))
        ],
        "programs": sorted(programs),
        "getattr": _has_module_getattr(module),
        "hooks": hooks,
        "touches": _touches(module, nodes),
        "reads": runtime_reads(module, nodes),
    }


def _defined(node: ast.stmt) -> list[str]:
    """The names a top-level statement defines (a function, an assignment to a name)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _touches(module: ast.Module, nodes: Sequence[ast.AST]) -> list[list[Any]]:
    """What the module changes in other modules: ``[dotted, level, what, at_import]``, where
    ``dotted`` (``pkg.registry.register``, relative to ``level`` dots like an import) is the
    imported name the change is rooted at, then its attributes up to the first call or
    subscript; the graph takes its longest prefix that is a module.

    At import (``at_import``): the code that runs when the module is imported (its top level,
    class bodies, decorators and default values, the bodies of its own functions it calls by
    name there) decorating with, or calling, an imported name (``@register('x')``,
    ``registry.HANDLERS.update(...)``), or assigning to or deleting an attribute or item of one
    (``pkg.beta.BASE = 18``, ``HANDLERS['x'] = f``, ``setattr(pkg.beta, ...)``). Anywhere else
    (not at import, which counts for test files and conftest.py files only): such an
    assignment or deletion in a function. A name counts as imported when an import anywhere in
    the file binds it (``import``, ``from ... import``, or an assignment of a literal
    ``importlib.import_module`` / ``pytest.importorskip`` / ``__import__``), or when a star
    import may have (nothing in the file binds it and it is no builtin). ``nodes``: all of the
    module's nodes."""
    bound: dict[str, list[tuple[str, int]]] = {}
    stars: list[tuple[str, int]] = []
    local: set[str] = set()
    changing: list[ast.AST] = []  # the nodes that may assign to an attribute or item
    for node in nodes:
        if isinstance(node, _ASSIGNING):
            changing.append(node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound.setdefault(alias.asname, []).append((alias.name, 0))
                else:
                    head = alias.name.partition(".")[0]
                    bound.setdefault(head, []).append((head, 0))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    stars.append((node.module or "", node.level))
                    continue
                path = ".".join(filter(None, [node.module, alias.name]))
                bound.setdefault(alias.asname or alias.name, []).append((path, node.level))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            name = node.targets[0] if len(node.targets) == 1 else None
            loaded = _literal_import(node.value)
            if isinstance(name, ast.Name) and loaded is not None:
                path, fromlist, _ = loaded
                func = node.value.func
                if getattr(func, "id", None) == "__import__" and not fromlist:
                    path = path.partition(".")[0]  # the top package, as __import__ gives
                bound.setdefault(name.id, []).append((path, 0))
        elif isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                local.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            local.add(node.name)
        elif isinstance(node, ast.arg):
            local.add(node.arg)
    found: dict[tuple[str, int, bool], tuple[int, str]] = {}

    def touch(expr: ast.expr, shown: ast.expr, spell: str, line: int, at_import: bool) -> None:
        """``expr`` changes what it is rooted at; ``spell`` with ``shown`` spelled says how."""
        rooted = _rooted(expr)
        if rooted is None:
            return
        root, attrs = rooted
        if root in bound:
            origins = bound[root]
        elif root not in local and root not in _BUILTINS:
            origins = [(".".join(filter(None, [m, root])), level) for m, level in stars]
        else:
            origins = []
        for path, level in origins:
            key = (".".join([path, *attrs]), level, at_import)
            if key not in found or line < found[key][0]:
                found[key] = (line, spell.format(spelled(shown, "a dynamic import")))

    def assigned(node: ast.AST, at_import: bool) -> None:
        line = getattr(node, "lineno", 0)
        for target, shown, spell in _assigned(node):
            touch(target, shown, spell, line, at_import)

    at_import: set[int] = set()
    decorators: set[int] = set()
    for node in _import_time(module):
        at_import.add(id(node))
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                decorators.add(id(decorator))
                touch(decorator, decorator, "@{}", decorator.lineno, True)
        elif isinstance(node, ast.Call) and id(node) not in decorators:
            touch(node.func, node.func, "{}(...)", line, True)
        assigned(node, True)
    for node in changing:
        if id(node) not in at_import:
            assigned(node, False)
    return [
        [dotted, level, f"{what} at line {line}", imported]
        for (dotted, level, imported), (line, what) in sorted(
            found.items(), key=lambda kv: (kv[1][0], kv[0])
        )
    ]


def _import_time(module: ast.Module) -> Iterable[ast.AST]:
    """The nodes that run when the module is imported: all but the bodies of functions and
    lambdas, save those of its own top-level functions it calls by name at import."""
    functions = {
        n.name: n for n in module.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    expanded: set[str] = set()
    stack: list[ast.AST] = list(reversed(module.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = node.args
            children: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d)]
            if not isinstance(node, ast.Lambda):
                children = [*node.decorator_list, *children]
            stack += reversed(children)
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called = functions.get(node.func.id)
            if called is not None and called.name not in expanded:
                expanded.add(called.name)
                stack += reversed(called.body)
        stack += reversed(list(ast.iter_child_nodes(node)))


_ASSIGNING = (
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Delete,
    ast.For,
    ast.AsyncFor,
    ast.With,
    ast.AsyncWith,
    ast.Call,
)


def _assigned(node: ast.AST) -> list[tuple[ast.expr, ast.expr, str]]:
    """The attributes and items ``node`` assigns to or deletes (``setattr`` and ``delattr``
    included), each with how to spell the statement (a node to spell, and a format)."""
    targets: list[ast.expr] = []
    spell = "{} = ..."
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    elif isinstance(node, ast.AugAssign):
        targets, spell = [node.target], f"{{}} {_AUG_OPS.get(type(node.op), '?')}= ..."
    elif isinstance(node, ast.Delete):
        targets, spell = list(node.targets), "del {}"
    elif isinstance(node, ast.For | ast.AsyncFor):
        targets, spell = [node.target], "for {} in ..."
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
        spell = "with ... as {}"
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("setattr", "delattr")
        and node.args
    ):
        return [(node.args[0], node, "{}")]
    out: list[tuple[ast.expr, ast.expr, str]] = []
    while targets:
        target = targets.pop(0)
        if isinstance(target, ast.Tuple | ast.List):
            targets += target.elts
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            out.append((target, target, spell))
    return out


_AUG_OPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}


def _rooted(expr: ast.expr) -> tuple[str, list[str]] | None:
    """The name an expression is rooted at, and the attributes after it up to the first call
    or subscript (``registry.HANDLERS['x'].clear`` -> ``("registry", ["HANDLERS"])``)."""
    attrs: list[str] = []
    node = expr
    while True:
        if isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            attrs.clear()
            node = node.value
        elif isinstance(node, ast.Call):
            attrs.clear()
            node = node.func
        elif isinstance(node, ast.Name):
            return node.id, attrs[::-1]
        else:
            return None


def _loader_use(node: ast.AST) -> str | None:
    """``importlib.import_module``, ``sys.path``, ``exec``: a use of something that loads code
    the graph cannot follow, as the source spells it; ``None`` for anything else."""
    if isinstance(node, ast.Name):
        if node.id in _LOADERS or node.id in _BUILTIN_LOADERS:
            return node.id
    elif isinstance(node, ast.Attribute):
        base = node.value
        if node.attr in _LOADERS:
            return spelled(node, "a dynamic import")
        if isinstance(base, ast.Name) and base.id == "sys" and node.attr in _SYS_ATTRS:
            return f"sys.{node.attr}"
        if isinstance(base, ast.Name) and base.id == "builtins" and node.attr in _BUILTIN_LOADERS:
            return f"builtins.{node.attr}"
        if isinstance(base, ast.Name) and base.id == "pydoc" and node.attr == "locate":
            return "pydoc.locate"
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if node.module == "sys" and (alias.name in _SYS_ATTRS or alias.name == "*"):
                return f"from sys import {alias.name}"
            if alias.name in _LOADERS and alias.asname not in (None, alias.name):
                return f"{alias.name} as {alias.asname}"  # its uses go by another name
    return None


def _literal_import(node: ast.Call) -> list[Any] | None:
    """``importlib.import_module("pkg.calc")`` (or ``__import__``, ``pytest.importorskip``
    with a literal name) as an import ``[module, names, 0]``; ``None`` otherwise."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name not in _LITERAL_IMPORTS or not node.args:
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    module = first.value
    if module.startswith("."):
        package = node.args[1] if len(node.args) > 1 else None
        if name != "import_module" or not (
            isinstance(package, ast.Constant) and isinstance(package.value, str)
        ):
            return None
        base = package.value.split(".")
        level = len(module) - len(module.lstrip("."))
        if level - 1 >= len(base):
            return None
        module = ".".join([*base[: len(base) - (level - 1)], *filter(None, [module[level:]])])
    if not module or not all(p.isidentifier() for p in module.split(".")):
        return None
    fromlist: list[str] = []
    for keyword in node.keywords:
        if keyword.arg == "fromlist":
            fromlist = _strings(keyword.value)
    if name == "__import__" and len(node.args) >= 4:
        fromlist = _strings(node.args[3])
    return [module, fromlist, 0]


def _command(node: ast.Call) -> set[str]:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name in _COMMANDS and node.args:
        return _first_word(node.args[0])
    return set()


def _first_word(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        words = node.value.split(maxsplit=1)
        if words and len(words[0]) < 100:
            return {words[0]}
    return set()


def _has_module_getattr(module: ast.Module) -> bool:
    """Whether the module defines a module-level ``__getattr__`` (PEP 562), by ``def`` or by
    assignment (``__getattr__, __dir__, __all__ = lazy.attach(...)``), at its top level or
    under an ``if`` / ``try`` there."""
    queue: list[ast.stmt] = list(module.body)
    while queue:
        node = queue.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name == "__getattr__":
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                elts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
                if any(isinstance(e, ast.Name) and e.id == "__getattr__" for e in elts):
                    return True
        elif isinstance(node, ast.If | ast.Try | ast.With):
            queue += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            for handler in getattr(node, "handlers", []):
                queue += handler.body
    return False


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
        # Where each dotted module path exists: module parts -> the folders it is under.
        self.bases: dict[tuple[str, ...], list[str]] = {}
        for rel in sorted(known):
            if not rel.endswith(".py"):
                continue
            parts = PurePosixPath(rel).parts
            module = parts[:-1] if parts[-1] == "__init__.py" else (*parts[:-1], parts[-1][:-3])
            for start in range(len(module)):
                base = "/".join(parts[:start])
                self.bases.setdefault(tuple(module[start:]), []).append(base)

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
        root = ""
        if level:
            base = PurePosixPath(rel).parent
            if level - 1 > len(base.parts):
                return []
            for _ in range(level - 1):
                base = base.parent
            root = "" if str(base) == "." else base.as_posix()
        for size in range(len(parts), -1 if level else 0, -1):
            if level:
                found = [f for f, _ in self._relative(root, parts[:size], "")[-1:]]
            else:
                found = [chain[-1][0] for chain in self._chains(parts[:size])]
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
            found = self._resolve_absolute(parts[:size])
            if found:
                return [(f, f"names {text!r}") for f, _ in found]
        return []

    def _imports(
        self, rel: str, module: str, imported: list[str], level: int
    ) -> list[tuple[str, str]]:
        parts = module.split(".") if module else []
        if level:
            base = PurePosixPath(rel).parent
            for _ in range(level - 1):
                base = base.parent
            if level - 1 > len(PurePosixPath(rel).parent.parts):
                return []  # beyond the workspace: not the project's
            root = "" if str(base) == "." else base.as_posix()
            prefix = "." * level
            out = self._relative(root, parts, prefix)
            for name in imported:
                if name != "*":
                    out += self._relative(root, [*parts, name], prefix)[-1:]
            return out
        out = self._resolve_absolute(parts)
        for name in imported:
            if name != "*":
                out += [chain[-1] for chain in self._chains([*parts, name])]
        return out

    def _relative(self, root: str, parts: list[str], prefix: str) -> list[tuple[str, str]]:
        if not parts:
            init = f"{root}/__init__.py" if root else "__init__.py"
            return [(init, f"imports {prefix}")] if init in self.known else []
        return self._chain(root, parts, prefix)

    def _resolve_absolute(self, parts: list[str]) -> list[tuple[str, str]]:
        """The files importing ``parts`` runs (its packages' ``__init__.py``, then the
        module), wherever the module exists."""
        return [hop for chain in self._chains(parts) for hop in chain]

    def _chains(self, parts: list[str]) -> list[list[tuple[str, str]]]:
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
