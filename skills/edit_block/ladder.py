"""The matching ladder: where a search text occurs in a text, rung by rung, strictest first.

Each rung of :data:`RUNGS` finds its candidates (a span of the text and the replacement to
write there, in the span's line endings): the search text as given, then ignoring line
endings, then ignoring trailing whitespace, then with its common indentation shifted (the
replacement is shifted the same way). :func:`first_rung` gives the strictest rung that has any.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Literal

from phasegraph.skills.core.text import plural

#: A rung of the matching ladder, strictest first in :data:`RUNGS`.
Rung = Literal["exact", "line-endings", "trailing-whitespace", "reindent"]
RUNGS: tuple[Rung, ...] = ("exact", "line-endings", "trailing-whitespace", "reindent")


def newline_of(text: str) -> str:
    """The text's dominant newline: CRLF when most line ends are CRLF, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"


def _with_newline(text: str, newline: str) -> str:
    lf = text.replace("\r\n", "\n")
    return lf if newline == "\n" else lf.replace("\n", "\r\n")


def find_all(text: str, needle: str) -> list[int]:
    """Start offsets of every occurrence, overlapping ones included."""
    found: list[int] = []
    start = text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + 1)
    return found


@dataclass(frozen=True)
class Candidate:
    """A place ``search`` matches at one rung: ``text[start:end]`` and what replaces it."""

    start: int
    end: int
    replacement: str
    #: For ``reindent``: the shift, as ``+4 spaces`` or ``-1 tab``.
    shift: str = ""


def first_rung(text: str, search: str, replace: str) -> tuple[Rung, list[Candidate]] | None:
    """The strictest rung at which ``search`` has candidates, and those candidates."""
    for rung in RUNGS:
        candidates = _RUNG_FINDERS[rung](text, search, replace)
        if candidates:
            return rung, candidates
    return None


def _newline_at(text: str, start: int, end: int) -> str:
    """The newline an edit of ``text[start:end]`` writes: the span's own, else the file's."""
    span = text[start:end]
    return newline_of(span if "\n" in span else text)


def _find_exact(text: str, search: str, replace: str) -> list[Candidate]:
    size = len(search)
    return [
        Candidate(at, at + size, _with_newline(replace, _newline_at(text, at, at + size)))
        for at in find_all(text, search)
    ]


def _find_line_endings(text: str, search: str, replace: str) -> list[Candidate]:
    flat, flat_search = text.replace("\r\n", "\n"), search.replace("\r\n", "\n")
    if flat == text and flat_search == search:
        return []  # the exact rung has looked already
    # Offsets in ``flat`` back to ``text``: each CRLF before an offset took one character.
    marks = [at - n for n, at in enumerate(find_all(text, "\r\n"))]

    def back(offset: int) -> int:
        return offset + bisect.bisect_left(marks, offset)

    out = []
    for at in find_all(flat, flat_search):
        start, end = back(at), back(at + len(flat_search))
        out.append(Candidate(start, end, _with_newline(replace, _newline_at(text, start, end))))
    return out


@dataclass(frozen=True)
class _Line:
    start: int
    content_end: int  # before its line end
    end: int  # after its line end
    text: str  # without the line end or trailing whitespace


def _file_lines(text: str) -> list[_Line]:
    out = []
    pos = 0
    for raw in text.split("\n"):
        stop = pos + len(raw)
        content_end = stop - 1 if raw.endswith("\r") else stop
        out.append(_Line(pos, content_end, min(stop + 1, len(text)), raw.rstrip()))
        pos = stop + 1
    return out


def _search_lines(search: str) -> tuple[list[str], bool]:
    """The search text's lines, trailing whitespace cut, and whether it ends with a newline."""
    flat = search.replace("\r\n", "\n")
    ends = flat.endswith("\n")
    return [line.rstrip() for line in (flat[:-1] if ends else flat).split("\n")], ends


def _windows(text: str, search: str) -> tuple[list[_Line], list[str], bool, range]:
    lines = _file_lines(text)
    wanted, ends = _search_lines(search)
    if not search.strip():
        return lines, wanted, ends, range(0)  # blank lines only: exact matches or nothing
    return lines, wanted, ends, range(len(lines) - len(wanted) + 1)


def _span(lines: list[_Line], at: int, size: int, ends: bool) -> tuple[int, int]:
    last = lines[at + size - 1]
    return lines[at].start, last.end if ends else last.content_end


def _find_trailing_whitespace(text: str, search: str, replace: str) -> list[Candidate]:
    lines, wanted, ends, starts = _windows(text, search)
    out = []
    for at in starts:
        if all(lines[at + i].text == want for i, want in enumerate(wanted)):
            start, end = _span(lines, at, len(wanted), ends)
            out.append(Candidate(start, end, _with_newline(replace, _newline_at(text, start, end))))
    return out


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _common_indent(lines: list[str]) -> str:
    """The leading whitespace every one of ``lines`` starts with."""
    common = _indent(lines[0])
    for line in lines[1:]:
        while not line.startswith(common):
            common = common[:-1]
    return common


def _find_reindent(text: str, search: str, replace: str) -> list[Candidate]:
    """Windows that hold the search lines once a common indentation is added or removed."""
    lines, wanted, ends, starts = _windows(text, search)
    filled = [i for i, want in enumerate(wanted) if want]
    if not filled:
        return []
    theirs = _common_indent([wanted[i] for i in filled])
    bare = [want[len(theirs) :] for want in wanted]
    first = filled[0]
    out = []
    for at in starts:
        head = lines[at + first].text
        if not head.endswith(bare[first]):
            continue
        ours = head[: len(head) - len(bare[first])]
        if ours.strip() or not all(
            lines[at + i].text == (ours + bare[i] if want else "") for i, want in enumerate(wanted)
        ):
            continue
        shifted = _shift(replace, theirs, ours)
        if shifted is None:
            continue
        start, end = _span(lines, at, len(wanted), ends)
        words = _shift_words(ours, theirs)
        out.append(
            Candidate(start, end, _with_newline(shifted, _newline_at(text, start, end)), words)
        )
    return out


def _shift(replace: str, theirs: str, ours: str) -> str | None:
    """``replace`` with the indentation ``theirs`` turned into ``ours`` on every line, or
    ``None`` when a shift to the left would cut into a line's text."""
    if ours.startswith(theirs):
        extra, grow = ours[len(theirs) :], True
    elif theirs.startswith(ours):
        extra, grow = theirs[len(ours) :], False
    else:
        return None  # not a shift (tabs for spaces, say): left to the person
    out = []
    for line in replace.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            out.append(line)
        elif line.startswith(theirs):
            out.append(ours + line[len(theirs) :])
        elif grow:
            out.append(extra + line)
        elif line.startswith(extra):
            out.append(line[len(extra) :])
        else:
            return None
    return "\n".join(out)


def _shift_words(ours: str, theirs: str) -> str:
    """``+4 spaces``, ``-1 tab``: how far the block was shifted to match."""
    grow = len(ours) >= len(theirs)
    extra = ours[len(theirs) :] if grow else theirs[len(ours) :]
    sign = "+" if grow else "-"
    if set(extra) == {" "}:
        return f"{sign}{plural(len(extra), 'space')}"
    if set(extra) == {"\t"}:
        return f"{sign}{plural(len(extra), 'tab')}"
    return f"{sign}{extra!r}"


_RUNG_FINDERS = {
    "exact": _find_exact,
    "line-endings": _find_line_endings,
    "trailing-whitespace": _find_trailing_whitespace,
    "reindent": _find_reindent,
}
