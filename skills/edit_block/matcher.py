"""Finding the block an edit replaces: :func:`match_block`, one decision and one message.

It is shared by the edit_block skill and the dry run before a run, so both agree. It climbs
the ladder of :mod:`~phasegraph.skills.edit_block.ladder`, strictest rung first: the search
text as given, then ignoring line endings, then ignoring trailing whitespace, then with its
common indentation shifted. The first rung with any candidate decides: one candidate is the
edit, two or more are refused with their lines. An edit whose search text is gone and whose
replacement is there exactly once is *already applied*: a success that changes nothing, so a
run sent again (or resumed) does not fail or apply it twice.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from phasegraph.skills.edit_block.ladder import Rung, first_rung

#: Lines of the nearest match shown in a "not found" error.
_SHOWN_LINES = 12

#: ``BlockMatch.match`` of an edit whose replacement is already in the file.
ALREADY_APPLIED = "already-applied"

_RUNG_WORDS: dict[str, str] = {
    "exact": "as given",
    "line-endings": "ignoring line endings",
    "trailing-whitespace": "ignoring trailing whitespace",
    "reindent": "once re-indented",
}


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@dataclass(frozen=True)
class _Nearest:
    line: int
    ratio: float
    lines: list[str]
    whitespace_only: bool


def _nearest(text: str, search: str) -> _Nearest | None:
    """The window of file lines most like ``search`` (difflib), with its 1-based line."""
    lines = text.replace("\r\n", "\n").split("\n")
    wanted = search.replace("\r\n", "\n").strip("\n")
    size = max(1, len(wanted.split("\n")))
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)
    best: _Nearest | None = None
    for start in range(max(1, len(lines) - size + 1)):
        window = lines[start : start + size]
        matcher.set_seq1("\n".join(window))
        floor = best.ratio if best else 0.0
        if matcher.real_quick_ratio() <= floor or matcher.quick_ratio() <= floor:
            continue
        ratio = matcher.ratio()
        if ratio > floor:
            best = _Nearest(start + 1, ratio, window, False)
    if best is None:
        return None
    same_words = [ln.split() for ln in best.lines] == [ln.split() for ln in wanted.split("\n")]
    return _Nearest(best.line, best.ratio, best.lines, same_words)


def _quote(search: str, limit: int = 60) -> str:
    """The search text as a short one-line quote, so a message names its input."""
    first = search.strip().splitlines()[0] if search.strip() else search
    more = "…" if len(first) > limit or "\n" in search.strip() else ""
    return repr(first[:limit] + more)


def _not_found(rel: str, text: str, search: str, note: str = "") -> str:
    near = _nearest(text, search)
    head = f"search text {_quote(search)} not found in {rel!r}{note}"
    fix = "copy the block exactly as the file has it (read_file shows it) into search"
    if near is None or near.ratio < 0.3:
        return f"{head}, and nothing in it looks similar; check the path, then {fix}"
    shown = [
        f"  {near.line + i:>5} | {line[:160]}" for i, line in enumerate(near.lines[:_SHOWN_LINES])
    ]
    if len(near.lines) > _SHOWN_LINES:
        shown.append(f"        ... ({len(near.lines) - _SHOWN_LINES} more lines)")
    why = " (it differs only in whitespace or indentation)" if near.whitespace_only else ""
    return (
        f"{head}; the nearest match{why} is at line {near.line} "
        f"({near.ratio:.0%} similar):\n" + "\n".join(shown) + f"\n{fix}"
    )


def _ambiguous(rel: str, text: str, search: str, rung: Rung, starts: list[int]) -> str:
    lines = ", ".join(str(_line_at(text, at)) for at in starts[:50])
    more = f" and {len(starts) - 50} more" if len(starts) > 50 else ""
    where = (
        f"matches {len(starts)} times in {rel!r}"
        if rung == "exact"
        else f"is not in {rel!r} as given, and {_RUNG_WORDS[rung]} it matches {len(starts)} times"
    )
    return (
        f"search text {_quote(search)} {where} (at lines {lines}{more}); "
        "it must match exactly once, so add surrounding lines to make it unique"
    )


@dataclass(frozen=True)
class BlockMatch:
    """Where an edit goes in a file's text (``start:end``) and the text that goes there."""

    start: int
    end: int
    #: The replacement in the file's line endings (and, for ``reindent``, its indentation).
    replacement: str
    #: The rung that matched, or :data:`ALREADY_APPLIED` (then ``start:end`` is the
    #: replacement already in the file, and nothing changes).
    match: str
    #: 1-based line of ``start``.
    line: int
    #: For ``reindent``: the shift, as ``+4 spaces`` or ``-1 tab``.
    shift: str = ""
    #: Already applied, and the search text matches only inside the replacement.
    inside: bool = False

    def apply(self, text: str) -> str:
        """``text`` with the edit made (unchanged when already applied)."""
        if self.match == ALREADY_APPLIED:
            return text
        return text[: self.start] + self.replacement + text[self.end :]

    @property
    def note(self) -> str:
        """How the match was loose, for a summary: empty for an exact match."""
        if self.match in ("exact", ALREADY_APPLIED):
            return ""
        if self.match == "reindent":
            return f" (matched once re-indented, {self.shift})"
        return f" (matched {_RUNG_WORDS[self.match]})"


def match_block(rel: str, text: str, search: str, replace: str) -> BlockMatch | str:
    """Where ``search`` is in ``text`` and what replaces it, or (a ``str``) why the edit
    cannot be made: one decision, and one message, for the edit and the dry run.

    The rungs of :data:`~phasegraph.skills.edit_block.ladder.RUNGS` are tried in order and
    the first with any candidate decides: exactly one is the match, two or more are refused
    with their lines. The edit is already applied (a success that changes nothing) when its
    replacement is found exactly once and the search text is not found at all, or only inside
    that replacement (a replacement that contains its search), so an edit sent again is not
    applied twice.
    """
    found = first_rung(text, search, replace)
    placed = first_rung(text, replace, replace) if search != replace and replace.strip() else None
    note = ""
    if placed is not None and len(placed[1]) == 1:
        (spot,) = placed[1]
        inside = found is not None and all(
            spot.start <= c.start and c.end <= spot.end for c in found[1]
        )
        if found is None or inside:
            return BlockMatch(
                start=spot.start,
                end=spot.end,
                replacement=text[spot.start : spot.end],
                match=ALREADY_APPLIED,
                line=_line_at(text, spot.start),
                inside=inside,
            )
    elif placed is not None:
        lines = ", ".join(str(_line_at(text, c.start)) for c in placed[1][:50])
        note = (
            f"; its replacement occurs {len(placed[1])} times (at lines {lines}), "
            "so it cannot be told whether the edit was already applied"
        )
    if found is None:
        return _not_found(rel, text, search, note)
    rung, candidates = found
    if len(candidates) > 1:
        return _ambiguous(rel, text, search, rung, [c.start for c in candidates])
    (one,) = candidates
    return BlockMatch(
        one.start, one.end, one.replacement, rung, _line_at(text, one.start), one.shift
    )
