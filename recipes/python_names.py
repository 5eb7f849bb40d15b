"""Which occurrences of a name in one Python file are the symbol: scopes and imports read with
tree-sitter.

The rename recipe asks, for each file that mentions the old name, which occurrences are
bound to the symbol its ``defined_in`` module defines (the definition, imports of it from
its own module or a module that re-exports it, attribute access on such a module,
``__all__`` entries) and which are something else (a same-named import from elsewhere, a
local, a string, a comment, prose in the docs). Only the first are changed; the others are
reported with the reason they were left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasegraph.recipes.doc_names import doc_line
from phasegraph.recipes.export_order import kept_order
from phasegraph.recipes.occurrences import Change, FileChanges, Symbol, split_lines, word
from phasegraph.recipes.python_imports import imported_names, resolve_from
from phasegraph.recipes.python_scopes import COMPREHENSIONS, in_import, is_binding, scope_of
from phasegraph.recipes.python_tree import (
    dotted,
    field_of,
    is_docstring,
    node_key,
    node_text,
    parse,
    walk,
)

if TYPE_CHECKING:
    import tree_sitter


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
        key = node_key(scope)
        if key not in self.flags or is_symbol:
            self.flags[key] = (is_symbol, why)

    def analyse(self, include_docs: bool) -> FileChanges:
        old, new = self.symbol.old, self.symbol.new
        idents: list[tree_sitter.Node] = []
        strings: list[tree_sitter.Node] = []
        for node in walk(self.tree.root_node):
            if node.type == "import_from_statement":
                self.from_import(node)
            elif node.type == "import_statement":
                self.plain_import(node)
            elif node.type == "identifier" and node_text(node) == old:
                idents.append(node)
            elif node.type in ("string", "comment"):
                strings.append(node)
        for ident in idents:
            parent = ident.parent
            if parent is not None and parent.type in ("global_statement", "nonlocal_statement"):
                if parent.type == "global_statement":
                    self.globals.add(node_key(scope_of(parent)))
                continue
            if in_import(ident) or not is_binding(ident):
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
            if node_key(node) not in handled:
                self.prose(node, include_docs)
        for change in self.found.changes:
            self.found.left.pop((change.line, change.start), None)
        return self.found

    def from_import(self, node: tree_sitter.Node) -> None:
        old, new = self.symbol.old, self.symbol.new
        source = resolve_from(node.child_by_field_name("module_name"), self.module, self.package)
        scope = scope_of(node)
        ours = source in self.symbol.modules
        if any(c.type == "wildcard_import" for c in node.children) and ours:
            self.bind(scope, True, "")
        for name_node, name, local in imported_names(node):
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
        for ident in walk(node):
            if ident.type == "identifier" and node_text(ident) == old:
                self.leave(ident, "part of an import statement")

    def plain_import(self, node: tree_sitter.Node) -> None:
        for index, child in enumerate(node.children):
            if node.field_name_for_child(index) != "name":
                continue
            if child.type == "aliased_import":
                target = node_text(child.child_by_field_name("name"))
                alias = node_text(child.child_by_field_name("alias"))
                self.aliases[alias] = target
                if alias == self.symbol.old:
                    self.bind(scope_of(node), False, f"the module {target}")
            else:
                head = node_text(child).split(".")[0]
                self.aliases.setdefault(head, head)
        for ident in walk(node):
            if ident.type == "identifier" and node_text(ident) == self.symbol.old:
                self.leave(ident, "part of an import statement")

    def owner(self, ident: tree_sitter.Node) -> tree_sitter.Node:
        scope = scope_of(ident)
        while scope.type != "module" and node_key(scope) in self.globals:
            scope = self.tree.root_node
        return scope

    def reference(self, ident: tree_sitter.Node, new: str) -> None:
        parent = ident.parent
        if in_import(ident):
            return
        if (
            parent is not None
            and parent.type == "attribute"
            and field_of(parent, ident) == "attribute"
        ):
            base = dotted(parent.child_by_field_name("object"))
            resolved = self.resolve_module(base)
            if resolved in self.symbol.modules:
                self.change(ident, new)
            else:
                self.leave(ident, f"an attribute of {base or 'an expression'}, not the symbol")
            return
        if (
            parent is not None
            and parent.type == "keyword_argument"
            and field_of(parent, ident) == "name"
        ):
            self.leave(ident, "a keyword argument's name")
            return
        if parent is not None and parent.type == "global_statement":
            scope: tree_sitter.Node = self.tree.root_node
        else:
            scope = self.owner(ident) if is_binding(ident) else scope_of(ident)
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
                or kind in COMPREHENSIONS
                or kind.endswith("definition")
                or kind == "lambda"
            ) and counts:
                found = self.flags.get(node_key(current))
                if found is not None and node_key(current) not in self.globals:
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
                *COMPREHENSIONS,
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
        is_symbol, _ = self.flags.get(node_key(self.tree.root_node), (False, ""))
        if not is_symbol:
            return done
        for node in self.tree.root_node.named_children:
            statement = node.named_children[0] if node.type == "expression_statement" else None
            if statement is None or statement.type not in ("assignment", "augmented_assignment"):
                continue
            if node_text(statement.child_by_field_name("left")) != "__all__":
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
            values = [node_text(c) for c in contents]
            if self.symbol.old not in values:
                continue
            renamed = [self.symbol.new if v == self.symbol.old else v for v in values]
            order = kept_order(values)
            if order is not None:
                renamed = order.sort(renamed)
            for item, content, before, after in zip(items, contents, values, renamed, strict=True):
                done.add(node_key(item))
                if content is not None and before != after:
                    self.change(content, after)
        return done

    def prose(self, node: tree_sitter.Node, include_docs: bool) -> None:
        """Occurrences in strings and comments: left, but for references in docstrings."""
        docstring = node.type == "string" and is_docstring(node)
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
