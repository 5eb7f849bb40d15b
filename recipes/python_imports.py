"""What a Python module imports and defines: the module a ``from``
import names (relative imports resolved), the names it imports, the modules it re-exports a
name from, and whether its top level defines a name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from phasegraph.recipes.python_scopes import in_import, is_binding, scope_of
from phasegraph.recipes.python_tree import node_text, parse, walk

if TYPE_CHECKING:
    import tree_sitter


def resolve_from(module_node: tree_sitter.Node | None, module: str, package: bool) -> str:
    """The absolute module a ``from X import`` names, relative imports resolved."""
    if module_node is None:
        return ""
    if module_node.type != "relative_import":
        return node_text(module_node)
    dots = 0
    name = ""
    for child in module_node.children:
        if child.type == "import_prefix":
            dots = len(node_text(child))
        elif child.type == "dotted_name":
            name = node_text(child)
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[: len(base) - (dots - 1)] if dots > 1 else base
    return ".".join([*base, name] if name else base)


def imported_names(statement: tree_sitter.Node) -> Iterator[tuple[tree_sitter.Node, str, str]]:
    """Each name a ``from`` import imports: its dotted-name node, its text, the local name."""
    for index, child in enumerate(statement.children):
        if statement.field_name_for_child(index) != "name":
            continue
        if child.type == "aliased_import":
            name = child.child_by_field_name("name")
            if name is not None:
                yield name, node_text(name), node_text(child.child_by_field_name("alias"))
        else:
            yield child, node_text(child), node_text(child)


def reexports(text: str, module: str, package: bool, old: str) -> set[str]:
    """The modules this file's top level imports ``old`` from under its own name (``from X
    import old``, ``from X import *``): if one is the symbol's, so is this module's ``old``."""
    found: set[str] = set()
    tree = parse(text)
    for node in walk(tree.root_node):
        if node.type != "import_from_statement" or scope_of(node).type != "module":
            continue
        source = resolve_from(node.child_by_field_name("module_name"), module, package)
        if any(c.type == "wildcard_import" for c in node.children):
            found.add(source)
        if any(name == old and local == old for _, name, local in imported_names(node)):
            found.add(source)
    return found


def defines(text: str, old: str) -> bool:
    """Whether the module's top level defines ``old`` (def, class or assignment)."""
    tree = parse(text)
    for node in walk(tree.root_node):
        if (
            node.type == "identifier"
            and node_text(node) == old
            and is_binding(node)
            and scope_of(node).type == "module"
            and not in_import(node)
        ):
            return True
    return False
