"""Which occurrences of a name are one Python symbol: scopes and imports read with tree-sitter.

The rename recipe asks, for each file that mentions the old name, which occurrences are
bound to the symbol its ``defined_in`` module defines (the definition, imports of it from
its own module or a module that re-exports it, attribute access on such a module,
``__all__`` entries) and which are something else (a same-named import from elsewhere, a
local, a string, a comment, prose in the docs). Only the first are changed; the others are
reported with the reason they were left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from phasegraph.recipes.export_order import kept_order
from phasegraph.skills.python.syntax import parse_python

if TYPE_CHECKING:
    import tree_sitter

#: Nodes that open a scope of their own.
_COMPREHENSIONS = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
)
#: Nodes a binding target may nest in (``a, (b, old) = ...``).
_TARGET_CONTAINERS = frozenset(
    {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "tuple",
        "list",
        "parenthesized_expression",
        "list_splat_pattern",
        "expression_list",
    }
)

_DOCTEST = re.compile(r"\s*(>>>|\.\.\.)(\s|$)")
_DIRECTIVE = re.compile(r"\s*(\.\. [\w:-]+::|:::)\s")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_DOCTEST_FROM = re.compile(r"\s*(?:>>>|\.\.\.)\s+from\s+([\w.]+)\s+import\s")


@dataclass(frozen=True)
class Symbol:
    """The symbol a rename is about."""

    old: str
    new: str
    #: Modules whose attribute ``old`` is the symbol: where it is defined, and every module
    #: that re-exports it under the same name.
    modules: frozenset[str]


@dataclass(frozen=True)
class Change:
    """Replace columns ``start:end`` of line ``line`` (0-based; lines end at ``\\n``, columns
    count characters) with ``text``."""

    line: int
    start: int
    end: int
    text: str


@dataclass
class FileChanges:
    """What to change in one file, and why each other occurrence is left."""

    changes: list[Change] = field(default_factory=list)
    #: ``(line, column)`` of an occurrence left as it is → why.
    left: dict[tuple[int, int], str] = field(default_factory=dict)

    def leave(self, line: int, col: int, why: str) -> None:
        self.left.setdefault((line, col), why)


def word(name: str) -> re.Pattern[str]:
    """``name`` as a whole word, as ripgrep's ``\\b`` finds it."""
    return re.compile(rf"\b{re.escape(name)}\b")


def split_lines(text: str) -> list[str]:
    """``text`` cut after each ``\\n`` only (tree-sitter's and ripgrep's lines; never at a
    form feed as ``str.splitlines`` would)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def module_name(rel: str, is_file: Callable[[str], bool]) -> tuple[str, bool]:
    """The dotted module of the workspace file ``rel`` and whether it is a package
    (``__init__``): its folders count while they hold an ``__init__.py``, so ``src/pkg/a.py``
    is ``pkg.a``."""
    path = PurePosixPath(rel)
    stem = path.name.split(".", 1)[0]
    package = stem == "__init__"
    parts = [] if package else [stem]
    folder = path.parent
    while folder.name and is_file((folder / "__init__.py").as_posix()):
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), package


def parse(text: str) -> tree_sitter.Tree:
    return parse_python(text.encode("utf-8"))


def _text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _field(parent: tree_sitter.Node, child: tree_sitter.Node) -> str | None:
    for index, candidate in enumerate(parent.children):
        if candidate == child:
            return parent.field_name_for_child(index)
    return None


def _key(node: tree_sitter.Node) -> tuple[int, int, str]:
    return (node.start_byte, node.end_byte, node.type)


def _resolve_from(module_node: tree_sitter.Node | None, module: str, package: bool) -> str:
    """The absolute module a ``from X import`` names, relative imports resolved."""
    if module_node is None:
        return ""
    if module_node.type != "relative_import":
        return _text(module_node)
    dots = 0
    name = ""
    for child in module_node.children:
        if child.type == "import_prefix":
            dots = len(_text(child))
        elif child.type == "dotted_name":
            name = _text(child)
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[: len(base) - (dots - 1)] if dots > 1 else base
    return ".".join([*base, name] if name else base)


def _imported(statement: tree_sitter.Node) -> Iterator[tuple[tree_sitter.Node, str, str]]:
    """Each name a ``from`` import imports: its dotted-name node, its text, the local name."""
    for index, child in enumerate(statement.children):
        if statement.field_name_for_child(index) != "name":
            continue
        if child.type == "aliased_import":
            name = child.child_by_field_name("name")
            if name is not None:
                yield name, _text(name), _text(child.child_by_field_name("alias"))
        else:
            yield child, _text(child), _text(child)


def reexports(text: str, module: str, package: bool, old: str) -> set[str]:
    """The modules this file's top level imports ``old`` from under its own name (``from X
    import old``, ``from X import *``): if one is the symbol's, so is this module's ``old``."""
    found: set[str] = set()
    tree = parse(text)
    for node in _walk(tree.root_node):
        if node.type != "import_from_statement" or _scope_of(node).type != "module":
            continue
        source = _resolve_from(node.child_by_field_name("module_name"), module, package)
        if any(c.type == "wildcard_import" for c in node.children):
            found.add(source)
        if any(name == old and local == old for _, name, local in _imported(node)):
            found.add(source)
    return found


def defines(text: str, old: str) -> bool:
    """Whether the module's top level defines ``old`` (def, class or assignment)."""
    tree = parse(text)
    for node in _walk(tree.root_node):
        if (
            node.type == "identifier"
            and _text(node) == old
            and _is_binding(node)
            and _scope_of(node).type == "module"
            and not _in_import(node)
        ):
            return True
    return False


def _scope_of(node: tree_sitter.Node) -> tree_sitter.Node:
    """The scope a name at ``node`` lives in (a function's defaults, decorators and name
    belong to the enclosing scope, its parameters and body to its own)."""
    child, current = node, node.parent
    while current is not None:
        kind = current.type
        if kind == "module":
            return current
        if kind in ("function_definition", "lambda"):
            where = _field(current, child)
            if where == "body" or (where == "parameters" and _is_parameter(node)):
                return current
        elif kind == "class_definition":
            if _field(current, child) == "body":
                return current
        elif kind in _COMPREHENSIONS:
            return current
        child, current = current, current.parent
    return child


def _is_parameter(ident: tree_sitter.Node) -> bool:
    parent = ident.parent
    if parent is None or ident.type != "identifier":
        return False
    if parent.type in (
        "parameters",
        "lambda_parameters",
        "list_splat_pattern",
        "dictionary_splat_pattern",
    ):
        return True
    if parent.type == "typed_parameter":
        return parent.named_children[0] == ident if parent.named_children else False
    if parent.type in ("default_parameter", "typed_default_parameter"):
        return _field(parent, ident) == "name"
    return False


def _is_binding(ident: tree_sitter.Node) -> bool:
    """Whether ``ident`` binds its name (a target, a parameter, a def or class name)."""
    parent = ident.parent
    if parent is None:
        return False
    if parent.type in ("function_definition", "class_definition"):
        return _field(parent, ident) == "name"
    if _is_parameter(ident):
        return True
    current = ident
    through_as = False
    while current.parent is not None and current.parent.type in (
        *_TARGET_CONTAINERS,
        "as_pattern_target",
    ):
        through_as = through_as or current.parent.type == "as_pattern_target"
        current = current.parent
    if through_as:
        return True
    holder = current.parent
    if holder is None:
        return False
    where = _field(holder, current)
    if holder.type in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return where == "left"
    if holder.type == "named_expression":
        return where == "name"
    return False


def _in_import(node: tree_sitter.Node) -> bool:
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type in ("import_statement", "import_from_statement", "future_import_statement"):
            return True
        if current.type in ("block", "module"):
            return False
        current = current.parent
    return False


def _dotted(node: tree_sitter.Node | None) -> str | None:
    """``a.b.c`` for a chain of names, ``None`` for any other expression."""
    if node is None:
        return None
    if node.type == "identifier":
        return _text(node)
    if node.type == "attribute":
        base = _dotted(node.child_by_field_name("object"))
        attr = node.child_by_field_name("attribute")
        return f"{base}.{_text(attr)}" if base is not None and attr is not None else None
    return None


def _is_docstring(string: tree_sitter.Node) -> bool:
    statement = string.parent
    if statement is None or statement.type != "expression_statement":
        return False
    if statement.named_child_count != 1:
        return False
    body = statement.parent
    if body is None or body.type not in ("module", "block"):
        return False
    first = next((c for c in body.named_children if c.type != "comment"), None)
    return first == statement


class _PythonFile:
    """One Python file's names, scopes and imports, as far as ``old`` is concerned."""

    def __init__(self, text: str, module: str, package: bool, symbol: Symbol, defining: bool):
        self.text = text
        self.raw = [line.encode("utf-8") for line in split_lines(text)]
        self.module = module
        self.package = package
        self.symbol = symbol
        self.defining = defining
        self.tree = parse(text)
        self.aliases: dict[str, str] = {}  # local name -> module it names
        self.flags: dict[tuple[int, int, str], tuple[bool, str]] = {}  # scope -> (symbol?, why)
        self.globals: set[tuple[int, int, str]] = set()
        self.found = FileChanges()

    def column(self, point: tree_sitter.Point) -> tuple[int, int]:
        row, col = point
        line = self.raw[row] if row < len(self.raw) else b""
        return row, len(line[:col].decode("utf-8", errors="replace"))

    def change(self, node: tree_sitter.Node, text: str) -> None:
        row, start = self.column(node.start_point)
        _, end = self.column(node.end_point)
        if node.start_point[0] == node.end_point[0]:
            self.found.changes.append(Change(row, start, end, text))

    def leave(self, node: tree_sitter.Node, why: str) -> None:
        row, col = self.column(node.start_point)
        self.found.leave(row, col, why)

    def bind(self, scope: tree_sitter.Node, is_symbol: bool, why: str) -> None:
        key = _key(scope)
        if key not in self.flags or is_symbol:
            self.flags[key] = (is_symbol, why)

    def analyse(self, include_docs: bool) -> FileChanges:
        old, new = self.symbol.old, self.symbol.new
        idents: list[tree_sitter.Node] = []
        strings: list[tree_sitter.Node] = []
        for node in _walk(self.tree.root_node):
            if node.type == "import_from_statement":
                self.from_import(node)
            elif node.type == "import_statement":
                self.plain_import(node)
            elif node.type == "identifier" and _text(node) == old:
                idents.append(node)
            elif node.type in ("string", "comment"):
                strings.append(node)
        for ident in idents:
            parent = ident.parent
            if parent is not None and parent.type in ("global_statement", "nonlocal_statement"):
                if parent.type == "global_statement":
                    self.globals.add(_key(_scope_of(parent)))
                continue
            if _in_import(ident) or not _is_binding(ident):
                continue
            scope = self.owner(ident)
            if scope.type == "module" and self.defining:
                self.bind(scope, True, "")
            else:
                self.bind(scope, False, "a local name" if scope.type != "module" else "")
        for ident in idents:
            self.reference(ident, new)
        handled = self.dunder_all()
        for node in strings:
            if _key(node) not in handled:
                self.prose(node, include_docs)
        for change in self.found.changes:
            self.found.left.pop((change.line, change.start), None)
        return self.found

    def from_import(self, node: tree_sitter.Node) -> None:
        old, new = self.symbol.old, self.symbol.new
        source = _resolve_from(node.child_by_field_name("module_name"), self.module, self.package)
        scope = _scope_of(node)
        ours = source in self.symbol.modules
        if any(c.type == "wildcard_import" for c in node.children) and ours:
            self.bind(scope, True, "")
        for name_node, name, local in _imported(node):
            if f"{source}.{name}" in self.symbol.modules:
                self.aliases[local] = f"{source}.{name}"
            if name != old:
                if local == old:
                    self.bind(scope, False, f"imported from {source} as {old}")
                continue
            if ours:
                self.change(name_node, new)
            else:
                self.leave(name_node, f"another {old!r}, imported from {source}")
            if local == old:
                self.bind(scope, ours, "" if ours else f"imported from {source}")
        for ident in _walk(node):
            if ident.type == "identifier" and _text(ident) == old:
                self.leave(ident, "part of an import statement")

    def plain_import(self, node: tree_sitter.Node) -> None:
        for index, child in enumerate(node.children):
            if node.field_name_for_child(index) != "name":
                continue
            if child.type == "aliased_import":
                target = _text(child.child_by_field_name("name"))
                alias = _text(child.child_by_field_name("alias"))
                self.aliases[alias] = target
                if alias == self.symbol.old:
                    self.bind(_scope_of(node), False, f"the module {target}")
            else:
                head = _text(child).split(".")[0]
                self.aliases.setdefault(head, head)
        for ident in _walk(node):
            if ident.type == "identifier" and _text(ident) == self.symbol.old:
                self.leave(ident, "part of an import statement")

    def owner(self, ident: tree_sitter.Node) -> tree_sitter.Node:
        scope = _scope_of(ident)
        while scope.type != "module" and _key(scope) in self.globals:
            scope = self.tree.root_node
        return scope

    def reference(self, ident: tree_sitter.Node, new: str) -> None:
        parent = ident.parent
        if _in_import(ident):
            return
        if (
            parent is not None
            and parent.type == "attribute"
            and _field(parent, ident) == "attribute"
        ):
            base = _dotted(parent.child_by_field_name("object"))
            resolved = self.resolve_module(base)
            if resolved in self.symbol.modules:
                self.change(ident, new)
            else:
                self.leave(ident, f"an attribute of {base or 'an expression'}, not the symbol")
            return
        if (
            parent is not None
            and parent.type == "keyword_argument"
            and _field(parent, ident) == "name"
        ):
            self.leave(ident, "a keyword argument's name")
            return
        if parent is not None and parent.type == "global_statement":
            scope: tree_sitter.Node = self.tree.root_node
        else:
            scope = self.owner(ident) if _is_binding(ident) else _scope_of(ident)
        is_symbol, why = self.lookup(scope)
        if is_symbol:
            self.change(ident, new)
        else:
            self.leave(ident, f"another {self.symbol.old!r}: {why}")

    def lookup(self, scope: tree_sitter.Node) -> tuple[bool, str]:
        """Python's name resolution from ``scope`` out: class bodies count only for code
        directly in them."""
        current: tree_sitter.Node | None = scope
        innermost = True
        while current is not None:
            kind = current.type
            counts = kind != "class_definition" or innermost
            if (
                kind == "module"
                or kind in _COMPREHENSIONS
                or kind.endswith("definition")
                or kind == "lambda"
            ) and counts:
                found = self.flags.get(_key(current))
                if found is not None and _key(current) not in self.globals:
                    return found[0], found[1] or "defined in this module"
                if kind == "module":
                    break
                innermost = False
            current = current.parent
            while current is not None and current.type not in (
                "module",
                "function_definition",
                "lambda",
                "class_definition",
                *_COMPREHENSIONS,
            ):
                current = current.parent
        return False, "not bound to the renamed symbol in this module"

    def resolve_module(self, dotted: str | None) -> str | None:
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head, head)
        return f"{base}.{rest}" if rest else base

    def dunder_all(self) -> set[tuple[int, int, str]]:
        """Rename ``old`` in ``__all__`` (sorted again in the order it was sorted in, if any:
        :mod:`phasegraph.recipes.export_order`) where this module's ``old`` is the symbol;
        the keys of the strings done."""
        done: set[tuple[int, int, str]] = set()
        is_symbol, _ = self.flags.get(_key(self.tree.root_node), (False, ""))
        if not is_symbol:
            return done
        for node in self.tree.root_node.named_children:
            statement = node.named_children[0] if node.type == "expression_statement" else None
            if statement is None or statement.type not in ("assignment", "augmented_assignment"):
                continue
            if _text(statement.child_by_field_name("left")) != "__all__":
                continue
            right = statement.child_by_field_name("right")
            if right is None or right.type not in ("list", "tuple"):
                continue
            items = [c for c in right.named_children if c.type == "string"]
            contents = [
                next((p for p in s.children if p.type == "string_content"), None) for s in items
            ]
            if any(c is None for c in contents):
                continue
            values = [_text(c) for c in contents]
            if self.symbol.old not in values:
                continue
            renamed = [self.symbol.new if v == self.symbol.old else v for v in values]
            order = kept_order(values)
            if order is not None:
                renamed = order.sort(renamed)
            for item, content, before, after in zip(items, contents, values, renamed, strict=True):
                done.add(_key(item))
                if content is not None and before != after:
                    self.change(content, after)
        return done

    def prose(self, node: tree_sitter.Node, include_docs: bool) -> None:
        """Occurrences in strings and comments: left, but for references in docstrings."""
        docstring = node.type == "string" and _is_docstring(node)
        what = (
            "a comment" if node.type == "comment" else ("a docstring" if docstring else "a string")
        )
        pattern = word(self.symbol.old)
        parts = (
            [node]
            if node.type == "comment"
            else [c for c in node.children if c.type == "string_content"]
        )
        lines = split_lines(self.text)
        for part in parts:
            first, lo = self.column(part.start_point)
            last, hi = self.column(part.end_point)
            for row in range(first, min(last, len(lines) - 1) + 1):
                start = lo if row == first else 0
                end = hi if row == last else len(lines[row])

                def inside(col: int, start: int = start, end: int = end) -> bool:
                    return start <= col < end

                if docstring:
                    doc = doc_line(lines[row], row, self.symbol, include_docs)
                    self.found.changes.extend(c for c in doc.changes if inside(c.start))
                    for (line, col), why in doc.left.items():
                        if inside(col):
                            self.found.leave(line, col, f"{why} (in a docstring)")
                    continue
                for match in pattern.finditer(lines[row]):
                    if inside(match.start()):
                        self.found.leave(row, match.start(), f"in {what}")


def python_findings(
    text: str, module: str, package: bool, symbol: Symbol, *, defining: bool, include_docs: bool
) -> FileChanges:
    """What to change in one Python file, and why each other occurrence of the name stays."""
    return _PythonFile(text, module, package, symbol, defining).analyse(include_docs)


def doc_line(
    line: str, row: int, symbol: Symbol, include_docs: bool, fenced: bool = False
) -> FileChanges:
    """A documentation line: references to the symbol in code (doctest lines, directive
    targets, roles and inline code, fenced code) are changed with ``include_docs``; prose and
    names qualified by another module are left."""
    found = FileChanges()
    code_line = fenced or bool(_DOCTEST.match(line))
    directive = _DIRECTIVE.match(line)
    inline = [(m.start(2), m.end(2)) for m in _INLINE_CODE.finditer(line)]
    imported = _DOCTEST_FROM.match(line)
    for match in word(symbol.old).finditer(line):
        at = match.start()
        in_code = (
            code_line
            or (directive is not None and at >= directive.end())
            or any(a <= at < b for a, b in inline)
        )
        if not in_code:
            found.leave(row, at, "prose")
            continue
        start = at
        while start > 0 and (line[start - 1].isalnum() or line[start - 1] in "_.~"):
            start -= 1
        qualifier = line[start:at].lstrip("~").rstrip(".")
        source = imported.group(1) if imported is not None else None
        if source is not None and source not in symbol.modules:
            found.leave(row, at, f"another {symbol.old!r}, imported from {source}")
        elif qualifier and qualifier not in symbol.modules:
            found.leave(row, at, f"qualified by {qualifier}, not the symbol's module")
        elif include_docs:
            found.changes.append(Change(row, at, match.end(), symbol.new))
        else:
            found.leave(row, at, "a reference in the docs (include_docs: true edits it)")
    return found
