"""Python source as a syntax tree: which files are Python, and tree-sitter's parse of them."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter

#: File suffixes read as Python (stubs included).
PYTHON_SUFFIXES = (".py", ".pyi")

#: One parser per worker thread: outlines run in parallel, and a tree-sitter parser is not
#: meant to be shared between threads (the grammar is).
_PARSERS = threading.local()


@cache
def _language() -> tree_sitter.Language:
    # Loaded on the first outline, not with the skill registry (start-up time).
    import tree_sitter
    import tree_sitter_python

    return tree_sitter.Language(tree_sitter_python.language())


def parse_python(source: bytes) -> tree_sitter.Tree:
    """``source`` parsed by tree-sitter's Python grammar: the one way Python is parsed, for the
    outline and the rename recipe (:mod:`phasegraph.recipes.python_names`), with the calling
    thread's own parser."""
    parser: tree_sitter.Parser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        import tree_sitter

        parser = _PARSERS.parser = tree_sitter.Parser(_language())
    return parser.parse(source)
