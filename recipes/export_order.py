"""The orders an ``__all__`` is kept in: ruff's RUF022 (isort-style) and plain alphabetical.

A rename that changes an entry of a sorted ``__all__`` sorts it again in the order it was
in, so the checks see no new finding: ruff's RUF022 is the one linter rule that checks it.
RUF022's order is ruff's ``SortingStyle::Isort``: SCREAMING_CASE names first (more than one
byte, every cased letter upper case), then names starting with an upper-case letter, then
everything else, each group in the natural order of the ``natord`` crate (runs of ASCII
digits compared as numbers, everything else by code point).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def _digit(c: str | None) -> int | None:
    return ord(c) - 48 if c is not None and "0" <= c <= "9" else None


def _sign(a: int, b: int) -> int:
    return (a > b) - (a < b)


def natural(left: str, right: str) -> int:
    """``natord::compare``: negative, zero or positive as ``left`` sorts before, with or after
    ``right``. A digit run starting with 0 compares digit by digit (``015 < 12``), any other
    by its length first (``15 < 123``); whitespace is skipped."""
    i = j = 0

    def at(text: str, k: int) -> str | None:
        return text[k] if k < len(text) else None

    while True:
        while (c := at(left, i)) is not None and c.isspace():
            i += 1
        while (c := at(right, j)) is not None and c.isspace():
            j += 1
        lc, rc = at(left, i), at(right, j)
        if lc is None or rc is None:
            return _sign(lc is not None, rc is not None)
        ld, rd = _digit(lc), _digit(rc)
        if ld is None or rd is None:
            if lc != rc:
                return _sign(ord(lc), ord(rc))
            i, j = i + 1, j + 1
            continue
        aligned_left = ld == 0 or rd == 0
        last = _sign(ld, rd)
        if aligned_left and last:
            return last
        while True:
            i, j = i + 1, j + 1
            ld, rd = _digit(at(left, i)), _digit(at(right, j))
            if ld is None or rd is None:
                if ld is not None or rd is not None:
                    return 1 if ld is not None else -1
                break
            step = _sign(ld, rd)
            if aligned_left and step:
                return step
            last = last or step
        if last:
            return last


def _category(name: str) -> int:
    """ruff's ``InferredMemberType``: 0 a constant, 1 a class, 2 anything else."""
    if len(name.encode("utf-8")) > 1 and name.isupper():
        return 0
    return 1 if name[:1].isupper() else 2


def _isort(left: str, right: str) -> int:
    return _sign(_category(left), _category(right)) or natural(left, right)


def _plain(left: str, right: str) -> int:
    return (left > right) - (left < right)


@dataclass(frozen=True)
class ExportOrder:
    """One way to sort the names of an ``__all__``."""

    name: str
    compare: Callable[[str, str], int]

    def holds(self, names: Sequence[str]) -> bool:
        """Whether ``names`` are in this order (as RUF022 decides it: no name sorts before
        the one ahead of it)."""
        return all(self.compare(b, a) >= 0 for a, b in itertools.pairwise(names))

    def sort(self, names: Sequence[str]) -> list[str]:
        return sorted(names, key=functools.cmp_to_key(self.compare))


RUF022 = ExportOrder("ruff's RUF022 order (isort-style)", _isort)
ALPHABETICAL = ExportOrder("alphabetical", _plain)
#: Tried in this order: a list in both keeps RUF022's, the order a linter checks.
EXPORT_ORDERS = (RUF022, ALPHABETICAL)


def kept_order(names: Sequence[str]) -> ExportOrder | None:
    """The order ``names`` are sorted in, ``None`` when they are in none of
    :data:`EXPORT_ORDERS` (then a rename keeps each name where it stands)."""
    return next((order for order in EXPORT_ORDERS if order.holds(names)), None)
