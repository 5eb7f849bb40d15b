"""Python's scopes in a tree-sitter tree: the scope a name lives in, and whether an occurrence
binds the name (a target, a parameter, a def or class name) or is part of an import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasegraph.recipes.python_tree import field_of

if TYPE_CHECKING:
    import tree_sitter

#: Nodes that open a scope of their own.
COMPREHENSIONS = frozenset(
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


def scope_of(node: tree_sitter.Node) -> tree_sitter.Node:
    """The scope a name at ``node`` lives in (a function's defaults, decorators and name
    belong to the enclosing scope, its parameters and body to its own)."""
    child, current = node, node.parent
    while current is not None:
        kind = current.type
        if kind == "module":
            return current
        if kind in ("function_definition", "lambda"):
            where = field_of(current, child)
            if where == "body" or (where == "parameters" and _is_parameter(node)):
                return current
        elif kind == "class_definition":
            if field_of(current, child) == "body":
                return current
        elif kind in COMPREHENSIONS:
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
        return field_of(parent, ident) == "name"
    return False


def is_binding(ident: tree_sitter.Node) -> bool:
    """Whether ``ident`` binds its name (a target, a parameter, a def or class name)."""
    parent = ident.parent
    if parent is None:
        return False
    if parent.type in ("function_definition", "class_definition"):
        return field_of(parent, ident) == "name"
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
    where = field_of(holder, current)
    if holder.type in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return where == "left"
    if holder.type == "named_expression":
        return where == "name"
    return False


def in_import(node: tree_sitter.Node) -> bool:
    """Whether ``node`` is part of an import statement."""
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type in ("import_statement", "import_from_statement", "future_import_statement"):
            return True
        if current.type in ("block", "module"):
            return False
        current = current.parent
    return False
