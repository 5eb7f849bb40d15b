"""Reading a tree-sitter Python tree: parsing a text, a node's text, walking, a child's field,
dotted names and docstrings. The parser is :func:`phasegraph.skills.python.syntax.parse_python`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from phasegraph.skills.python.syntax import parse_python

if TYPE_CHECKING:
    import tree_sitter


def parse(text: str) -> tree_sitter.Tree:
    return parse_python(text.encode("utf-8"))


def node_text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """``node`` and every node below it, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def field_of(parent: tree_sitter.Node, child: tree_sitter.Node) -> str | None:
    """The field of ``parent`` that ``child`` fills (``None`` for none)."""
    for index, candidate in enumerate(parent.children):
        if candidate == child:
            return parent.field_name_for_child(index)
    return None


def node_key(node: tree_sitter.Node) -> tuple[int, int, str]:
    """A node's identity, usable as a dict key."""
    return (node.start_byte, node.end_byte, node.type)


def dotted(node: tree_sitter.Node | None) -> str | None:
    """``a.b.c`` for a chain of names, ``None`` for any other expression."""
    if node is None:
        return None
    if node.type == "identifier":
        return node_text(node)
    if node.type == "attribute":
        base = dotted(node.child_by_field_name("object"))
        attr = node.child_by_field_name("attribute")
        return f"{base}.{node_text(attr)}" if base is not None and attr is not None else None
    return None


def is_docstring(string: tree_sitter.Node) -> bool:
    """Whether the ``string`` node is its module's, class's or function's docstring."""
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
