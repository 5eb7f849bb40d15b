"""What a module changes in the modules it imports: the registrations and assignments that
change what other files see once it is imported (one pytest session shares module state across
test files).

:func:`touches` finds, in a module's syntax tree, a decorator or call using a name imported
from another module (``@register('beta')``, ``registry.HANDLERS.update(...)``), and an
assignment to or deletion of an attribute or item of one (``pkg.beta.BASE = 18``,
``HANDLERS['x'] = f``), each as the imported name it is rooted at, whether it runs when the
module is imported, and how the source spells it. The import graph
(:meth:`phasegraph.skills.python.imports.graph.ImportGraph.changes`) resolves the names to the
project's modules.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from phasegraph.skills.python.imports.loads import literal_import
from phasegraph.skills.python.imports.runtime_reads import spelled

#: The builtins: a name a star import cannot have brought in when the file uses it.
_BUILTINS = frozenset(dir(builtins))


def touches(module: ast.Module, nodes: Sequence[ast.AST]) -> list[list[Any]]:
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
            loaded = literal_import(node.value)
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
