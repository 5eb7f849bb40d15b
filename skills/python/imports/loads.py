"""What a module loads, as far as its source says: its imports (``pytest_plugins`` and literal
``import_module`` / ``__import__`` / ``importorskip`` names included), the file names and
dotted names its strings spell, the commands it names, its pytest hooks, a module
``__getattr__``, and the uses of what loads code the import graph cannot follow
(``importlib.import_module`` with a computed name, ``sys.path``, ``exec``, running Python in a
subprocess): :func:`module_loads`, part of a file's findings
(:func:`phasegraph.skills.python.imports.scan.parse_source`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from phasegraph.skills.python.imports.runtime_reads import spelled

_FILE_NAME = re.compile(r"[\w.\-/]*\w\.\w+")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?::[\w.]+)?")
_PYTHON_PROGRAM = re.compile(r"(?:python|pypy)(?:\d+(?:\.\d+)*)?(?:\.exe)?")

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


def module_loads(module: ast.Module, nodes: Sequence[ast.AST]) -> dict[str, Any]:
    """The loads part of a module's findings (``nodes``: all of its nodes): ``imports``,
    ``names``, ``dotted``, ``dynamic``, ``programs``, ``getattr`` and ``hooks``, as
    :func:`~phasegraph.skills.python.imports.scan.parse_source` says."""
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
            found = literal_import(node)
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
    }


def _defined(node: ast.stmt) -> list[str]:
    """The names a top-level statement defines (a function, an assignment to a name)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


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


def literal_import(node: ast.Call) -> list[Any] | None:
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
