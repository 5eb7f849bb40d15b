"""edit_block: replace one block of text in a file, atomically and verified.

The block is found by one matcher, :func:`match_block`, shared with the dry run before a run,
so both agree. It climbs a ladder of rungs, strictest first: the search text as given, then
ignoring line endings, then ignoring trailing whitespace, then with its common indentation
shifted (the replacement is shifted the same way). The first rung with any candidate decides:
one candidate is the edit, two or more are refused with their lines. An edit whose search text
is gone and whose replacement is there exactly once is *already applied*: a success that
changes nothing, so a run sent again (or resumed) does not fail or apply it twice.
"""

from __future__ import annotations

import asyncio
import bisect
import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from phasegraph.skills.base import (
    InMemory,
    PathArg,
    Skill,
    SkillArgs,
    SkillContext,
    SkillKind,
    SkillResult,
)
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import plural
from phasegraph.skills.guards.workspace import (
    read_confined,
    relative_name,
    resolve_in_workspace,
    write_confined,
)
from phasegraph.skills.read_file import count_lines, read_text_file

#: Lines of the nearest match shown in a "not found" error.
_SHOWN_LINES = 12

#: A rung of the matching ladder, strictest first in :data:`RUNGS`.
Rung = Literal["exact", "line-endings", "trailing-whitespace", "reindent"]
RUNGS: tuple[Rung, ...] = ("exact", "line-endings", "trailing-whitespace", "reindent")
#: ``BlockMatch.match`` of an edit whose replacement is already in the file.
ALREADY_APPLIED = "already-applied"

_RUNG_WORDS: dict[str, str] = {
    "exact": "as given",
    "line-endings": "ignoring line endings",
    "trailing-whitespace": "ignoring trailing whitespace",
    "reindent": "once re-indented",
}


class EditBlockArgs(SkillArgs):
    """Arguments of :func:`edit_block`."""

    path: Annotated[str, PathArg()]
    #: Text that must occur exactly once in the file (see :func:`match_block` for the
    #: differences in line endings, trailing whitespace and indentation it forgives).
    search: str = Field(min_length=1)
    #: What replaces it.
    replace: str

    @field_validator("search", "replace")
    @classmethod
    def _text_only(cls, value: str) -> str:
        return text_field(value)


def text_field(value: str) -> str:
    """``value`` if it can be written into a UTF-8 text file as it is, else a ValueError.

    A NUL byte would turn the file binary, and a lone surrogate (``"\\ud800"`` in
    JSON) has no UTF-8 form: both are refused when the plan is checked, not midway.
    """
    if "\x00" in value:
        raise ValueError("the text contains a NUL byte, which would make the file binary")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the text holds {value[exc.start]!r} at offset {exc.start}, "
            "which has no UTF-8 form (a lone surrogate)"
        ) from exc
    return value


def _newline_of(text: str) -> str:
    """The file's dominant newline: CRLF when most line ends are CRLF, else LF."""
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


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    replacement: str
    shift: str = ""


def match_block(rel: str, text: str, search: str, replace: str) -> BlockMatch | str:
    """Where ``search`` is in ``text`` and what replaces it, or (a ``str``) why the edit
    cannot be made: one decision, and one message, for the edit and the dry run.

    The rungs of :data:`RUNGS` are tried in order and the first with any candidate decides:
    exactly one is the match, two or more are refused with their lines. The edit is already
    applied (a success that changes nothing) when its replacement is found exactly once and
    the search text is not found at all, or only inside that replacement (a replacement that
    contains its search), so an edit sent again is not applied twice.
    """
    found = _first_rung(text, search, replace)
    placed = _first_rung(text, replace, replace) if search != replace and replace.strip() else None
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


def _first_rung(text: str, search: str, replace: str) -> tuple[Rung, list[_Candidate]] | None:
    """The strictest rung at which ``search`` has candidates, and those candidates."""
    for rung in RUNGS:
        candidates = _RUNG_FINDERS[rung](text, search, replace)
        if candidates:
            return rung, candidates
    return None


def _newline_at(text: str, start: int, end: int) -> str:
    """The newline an edit of ``text[start:end]`` writes: the span's own, else the file's."""
    span = text[start:end]
    return _newline_of(span if "\n" in span else text)


def _find_exact(text: str, search: str, replace: str) -> list[_Candidate]:
    size = len(search)
    return [
        _Candidate(at, at + size, _with_newline(replace, _newline_at(text, at, at + size)))
        for at in find_all(text, search)
    ]


def _find_line_endings(text: str, search: str, replace: str) -> list[_Candidate]:
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
        out.append(_Candidate(start, end, _with_newline(replace, _newline_at(text, start, end))))
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


def _find_trailing_whitespace(text: str, search: str, replace: str) -> list[_Candidate]:
    lines, wanted, ends, starts = _windows(text, search)
    out = []
    for at in starts:
        if all(lines[at + i].text == want for i, want in enumerate(wanted)):
            start, end = _span(lines, at, len(wanted), ends)
            out.append(
                _Candidate(start, end, _with_newline(replace, _newline_at(text, start, end)))
            )
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


def _find_reindent(text: str, search: str, replace: str) -> list[_Candidate]:
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
            _Candidate(start, end, _with_newline(shifted, _newline_at(text, start, end)), words)
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


async def edit_block(args: EditBlockArgs, ctx: SkillContext) -> SkillResult:
    """Its file work (below) runs in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_edit_block, args, ctx)


def _edit_block(args: EditBlockArgs, ctx: SkillContext) -> SkillResult:
    """Replace the one match of ``search`` in ``path`` with ``replace`` (see
    :func:`match_block`)."""
    if not args.search:
        raise SkillError(
            f"edit_block on {args.path!r} needs a non-empty search text; "
            "use write_file to write a whole file",
            step_id=ctx.step_id,
        )
    target = resolve_in_workspace(ctx.workspace, args.path, step_id=ctx.step_id)
    rel = relative_name(ctx.workspace, target)
    original, text = read_text_file(
        target, rel, max_bytes=ctx.edit_max_bytes, step_id=ctx.step_id, workspace=ctx.workspace
    )
    found = match_block(rel, text, args.search, args.replace)
    if isinstance(found, str):
        raise SkillError(found, step_id=ctx.step_id)

    expected = found.apply(text).encode("utf-8")
    changed = expected != original
    if changed:
        if _read_back(ctx, target, rel, len(original)) != original:
            raise SkillError(
                f"{rel!r} changed while it was being edited; run the step again",
                step_id=ctx.step_id,
                transient=True,
            )
        write_confined(ctx.workspace, target, expected, rel=rel, step_id=ctx.step_id)
        if _read_back(ctx, target, rel, len(expected)) != expected:
            raise SkillError(
                f"{rel!r} does not hold the edit after writing it (something else wrote the "
                "file at the same time?); check the file and run the step again",
                step_id=ctx.step_id,
            )
    if found.match == ALREADY_APPLIED:
        why = (
            "the replacement is there and holds the only match of the search text"
            if found.inside
            else "the replacement is there, the search text is not"
        )
        summary = (
            f"edit of {rel[:120]} already applied at line {found.line} ({why}): nothing changed"
        )
    else:
        removed = count_lines(text[found.start : found.end])
        added = count_lines(found.replacement)
        what = f"replaced {removed} line(s) with {added}" if changed else "no change (same text)"
        summary = f"edited {rel[:120]} at line {found.line}: {what}{found.note}"
    return SkillResult(
        summary=summary,
        data={
            "path": rel,
            "line": found.line,
            "changed": changed,
            "match": found.match,
            "newline": "crlf" if _newline_of(text) == "\r\n" else "lf",
            "sha256": hashlib.sha256(expected).hexdigest(),
        },
        files_written=[rel] if changed else [],
    )


def _read_back(ctx: SkillContext, target: Path, rel: str, size: int) -> bytes:
    """The file's bytes now (one past ``size`` at most), read without following symlinks."""
    try:
        return read_confined(ctx.workspace, target, rel=rel, max_bytes=size, step_id=ctx.step_id)
    except FileNotFoundError:
        return b""


def in_memory(args: Mapping[str, Any], rel: str, text: str | None) -> InMemory:
    """The file as the edit leaves it, matched as the edit matches (:func:`match_block`), or
    why it cannot apply."""
    search, replace = args.get("search"), args.get("replace")
    if not isinstance(search, str) or not isinstance(replace, str) or not search:
        return InMemory()  # the args check names it
    if text is None:
        return InMemory(problem=f"{rel} does not exist; use write_file")
    found = match_block(rel, text, search, replace)
    return InMemory(problem=found) if isinstance(found, str) else InMemory(found.apply(text))


SKILL = Skill(
    name="edit_block",
    kind=SkillKind.WRITE,
    args_model=EditBlockArgs,
    fn=edit_block,
    description="Replace one exact, unique block of text in a file (atomic, verified)",
    in_memory=in_memory,
)
