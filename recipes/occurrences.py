"""The occurrences a rename finds: the symbol it is about, the changes it makes in a file and
the occurrences it leaves (with why), in the lines and words ripgrep counts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


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
