"""Which occurrences of a name in documentation (reST, Markdown, docstrings) the rename changes.

Each line is read as :func:`doc_line` reads it (code is changed, prose is not), and in a
documentation file three things only the whole file shows decide the rest:

- a changelog or history file is never edited: its entries record what was true then;
- a code example (a fenced block, a doctest session) that defines the name itself keeps it:
  there it is the example's own name, not the symbol;
- a link anchor naming the symbol changes with it: an anchor qualified by the symbol's module
  (``api.md#pkg.Old``, a mkdocstrings cross-reference ``[Old][pkg.Old]``) always, an anchor
  of a heading of the same page as that heading changes (or not), any other anchor holding
  the name (``other.md#old``) on the lines the rename changes, so no line is left half
  changed. A link's text that is the bare name changes with its anchor.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import PurePosixPath

from phasegraph.recipes.occurrences import Change, FileChanges, Symbol, split_lines, word
from phasegraph.recipes.python_imports import defines

#: Suffixes whose text is documentation: reST and Markdown.
DOC_SUFFIXES = (".rst", ".md", ".markdown")
HISTORY_WHY = "a changelog or history file (its entries record what was true then)"

_FENCE = re.compile(r"\s*(```|~~~)")
#: A doctest line: ``>>> code``, ``... more``.
_PROMPT = re.compile(r"\s*(>>>|\.\.\.)(\s|$)")
_PROMPT_PREFIX = re.compile(r"^\s*(>>>|\.\.\.) ?")
_DIRECTIVE = re.compile(r"\s*(\.\. [\w:-]+::|:::)\s")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_DOCTEST_FROM = re.compile(r"\s*(?:>>>|\.\.\.)\s+from\s+([\w.]+)\s+import\s")
_HEADING = re.compile(r"#{1,6}\s+(.*?)[\s#]*$")
#: A changelog's or history's file name before its first dot: CHANGELOG, HISTORY, NEWS,
#: CHANGES, RELEASE_NOTES, also with a suffix (``CHANGELOG-1.x.md``).
_HISTORY_FILE = re.compile(r"(changelog|changes|history|news|release[-_]?notes)([-_].*)?", re.I)
#: Folders holding nothing but history: ``docs/changelog/``, towncrier's fragments.
_HISTORY_FOLDERS = frozenset({"changelog", "changelog.d", "changes", "newsfragments"})
#: Link targets: ``[text](url)``, ``[text][ref]``, reST's ``<url>``, ``[ref]: url``.
_LINK = re.compile(
    r"\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]*)\)"
    r"|\[(?P<rtext>[^\]]*)\]\[(?P<ref>[^\]\s]+)\]"
    r"|<(?P<rst>[^<>\s]*#[^<>\s]*)>"
    r"|^\s*\[[^\]]+\]:\s*(?P<url_def>\S+)"
)


def is_history(rel: str) -> bool:
    """Whether the workspace file ``rel`` is a changelog or history (``CHANGELOG.md``,
    ``HISTORY.rst``, ``NEWS``, ``docs/changelog.md``, ``changelog.d/12.md``), any case."""
    path = PurePosixPath(rel)
    if any(folder.lower() in _HISTORY_FOLDERS for folder in path.parent.parts):
        return True
    return _HISTORY_FILE.fullmatch(path.name.split(".", 1)[0]) is not None


def doc_line(
    line: str, row: int, symbol: Symbol, include_docs: bool, fenced: bool = False
) -> FileChanges:
    """A documentation line: references to the symbol in code (doctest lines, directive
    targets, roles and inline code, fenced code) are changed with ``include_docs``; prose and
    names qualified by another module are left."""
    found = FileChanges()
    code_line = fenced or bool(_PROMPT.match(line))
    directive = _DIRECTIVE.match(line)
    inline = [(m.start(2), m.end(2)) for m in _INLINE_CODE.finditer(line)]
    imported = _DOCTEST_FROM.match(line)
    for match in word(symbol.old).finditer(line):
        at = match.start()
        in_code = (
            code_line
            or (directive is not None and at >= directive.end())
            or any(a <= at < b for a, b in inline)
        )
        if not in_code:
            found.leave(row, at, "prose")
            continue
        start = at
        while start > 0 and (line[start - 1].isalnum() or line[start - 1] in "_.~"):
            start -= 1
        qualifier = line[start:at].lstrip("~").rstrip(".")
        source = imported.group(1) if imported is not None else None
        if source is not None and source not in symbol.modules:
            found.leave(row, at, f"another {symbol.old!r}, imported from {source}")
        elif qualifier and qualifier not in symbol.modules:
            found.leave(row, at, f"qualified by {qualifier}, not the symbol's module")
        elif include_docs:
            found.changes.append(Change(row, at, match.end(), symbol.new))
        else:
            found.leave(row, at, "a reference in the docs (include_docs: true edits it)")
    return found


def doc_findings(rel: str, text: str, symbol: Symbol, include_docs: bool) -> FileChanges:
    """What to change in the documentation file ``rel``, and why each other occurrence
    stays."""
    found = FileChanges()
    lines = split_lines(text)
    if is_history(rel):
        for row, line in enumerate(lines):
            for match in word(symbol.old).finditer(line):
                found.leave(row, match.start(), HISTORY_WHY)
        return found
    local = _defining_examples(lines, symbol.old)
    headings = _headings(lines, symbol, include_docs)
    fenced = False
    for row, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if symbol.old.lower() not in line.lower():
            continue
        one = doc_line(line, row, symbol, include_docs, fenced)
        if row in local:
            one = _in_own_example(one, line, local[row])
        elif not fenced and not _PROMPT.match(line):
            one = _with_links(one, line, row, symbol, include_docs, headings)
        found.changes.extend(one.changes)
        found.left.update(one.left)
    return found


def _slug(title: str) -> str:
    """A heading's anchor as GitHub and mkdocs' table of contents make it."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _applied(line: str, changes: list[Change]) -> str:
    for change in sorted(changes, key=lambda c: c.start, reverse=True):
        line = line[: change.start] + change.text + line[change.end :]
    return line


def _headings(lines: list[str], symbol: Symbol, include_docs: bool) -> dict[str, str]:
    """The anchors of this page's Markdown headings that hold the name, any case → each
    one's anchor after the rename (the same when the heading keeps its text)."""
    anchors: dict[str, str] = {}
    fenced = False
    for row, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        before = None if fenced else _HEADING.match(line)
        if before is None or symbol.old.lower() not in line.lower():
            continue
        one = doc_line(line, row, symbol, include_docs)
        after = _HEADING.match(_applied(line, one.changes))
        anchors[_slug(before.group(1))] = _slug(after.group(1) if after else before.group(1))
    return anchors


def _examples(lines: list[str]) -> list[tuple[int, int]]:
    """The code examples, as ``(first, last)`` rows: fenced blocks (inside the fences) and
    doctest sessions outside them (from a ``>>>`` line to the next blank line)."""
    blocks: list[tuple[int, int]] = []
    row = 0
    while row < len(lines):
        if _FENCE.match(lines[row]):
            end = next((r for r in range(row + 1, len(lines)) if _FENCE.match(lines[r])), None)
            last = len(lines) - 1 if end is None else end - 1
            if last > row:
                blocks.append((row + 1, last))
            row = len(lines) if end is None else end + 1
        elif lines[row].lstrip().startswith(">>>"):
            end = row
            while (
                end + 1 < len(lines) and lines[end + 1].strip() and not _FENCE.match(lines[end + 1])
            ):
                end += 1
            blocks.append((row, end))
            row = end + 1
        else:
            row += 1
    return blocks


def _defining_examples(lines: list[str], old: str) -> dict[int, str]:
    """Each row of an example that defines ``old`` at its top level (``class old:``, ``def
    old``, ``old = ...``) → where that example is, for the note."""
    rows: dict[int, str] = {}
    for first, last in _examples(lines):
        block = lines[first : last + 1]
        prompts = [line for line in block if _PROMPT.match(line)]
        if prompts:  # a doctest session: its output lines are not code
            code = "".join(_PROMPT_PREFIX.sub("", line) for line in prompts)
        else:
            code = "".join(block)
        if defines(textwrap.dedent(code), old):
            where = f"the example on lines {first + 1}-{last + 1} defines {old!r} itself"
            rows.update(dict.fromkeys(range(first, last + 1), where))
    return rows


def _in_own_example(one: FileChanges, line: str, where: str) -> FileChanges:
    """A line of an example that defines the name: only references qualified by the
    symbol's module (``pkg.Old``) are the symbol; every other is the example's own."""
    local = f"{where}: a name local to the example"
    kept = FileChanges(left={at: local if why == "prose" else why for at, why in one.left.items()})
    for change in one.changes:
        if change.start > 0 and line[change.start - 1] == ".":
            kept.changes.append(change)
        else:
            kept.left[(change.line, change.start)] = local
    return kept


@dataclass(frozen=True)
class _Anchor:
    """An occurrence of the name in a link target: where, what replaces it, and whether it
    surely names the symbol (qualified by its module)."""

    start: int
    end: int
    text: str
    sure: bool
    link: int  # which link of the line


def _anchors(
    line: str, symbol: Symbol, headings: dict[str, str]
) -> tuple[list[_Anchor], list[tuple[int, str]], list[tuple[int, int]]]:
    """The name's occurrences in the line's link anchors, those left (with why), and each
    link's text span (``(-1, -1)`` for a link without one)."""
    anchors: list[_Anchor] = []
    left: list[tuple[int, str]] = []
    texts: list[tuple[int, int]] = []
    for n, link in enumerate(_LINK.finditer(line)):
        texts.append(link.span("text" if link.group("text") is not None else "rtext"))
        if link.group("ref") is not None:
            target, at = link.group("ref"), link.start("ref")
        else:
            name = next(g for g in ("url", "rst", "url_def") if link.group(g) is not None)
            url, hash_at = link.group(name), link.group(name).find("#")
            if hash_at < 0:
                continue
            target, at = url[hash_at + 1 :], link.start(name) + hash_at + 1
            if hash_at == 0 and target in headings:  # a heading of this page
                if headings[target] != target:
                    anchors.append(_Anchor(at, at + len(target), headings[target], True, n))
                else:
                    kept = f"links to the heading #{target}, which keeps its text"
                    left.extend((at + m.start(), kept) for m in word(symbol.old).finditer(target))
                continue
        dotted = "." in target
        slug = not dotted and target == target.lower()
        pattern = word(symbol.old.lower() if slug else symbol.old)
        for match in pattern.finditer(target):
            start, end = at + match.start(), at + match.end()
            qualifier = re.search(r"[\w.]*$", target[: match.start()])
            module = qualifier.group().rstrip(".") if qualifier else ""
            if module and module not in symbol.modules:
                left.append((start, f"a link anchor qualified by {module}, not the symbol's"))
                continue
            new = symbol.new.lower() if slug else symbol.new
            anchors.append(_Anchor(start, end, new, sure=bool(module), link=n))
    return anchors, left, texts


def _with_links(
    one: FileChanges,
    line: str,
    row: int,
    symbol: Symbol,
    include_docs: bool,
    headings: dict[str, str],
) -> FileChanges:
    """``one`` with the line's link anchors naming the symbol changed (and a link's text
    that is the bare name, when its anchor changes)."""
    anchors, left, texts = _anchors(line, symbol, headings)
    out = FileChanges(changes=list(one.changes), left=dict(one.left))
    for start, why in left:
        out.left[(row, start)] = why
    if not include_docs:
        for anchor in anchors:
            if anchor.sure:
                out.left[(row, anchor.start)] = (
                    "a link to the symbol in the docs (include_docs: true edits it)"
                )
        return out
    changing = bool(one.changes) or any(a.sure for a in anchors)
    if not changing:
        return out
    taken = {c.start for c in one.changes}
    links: set[int] = set()
    for anchor in anchors:
        if anchor.start not in taken:
            out.changes.append(Change(row, anchor.start, anchor.end, anchor.text))
            taken.add(anchor.start)
        links.add(anchor.link)
    for n in sorted(links):
        lo, hi = texts[n]
        label = line[lo:hi] if lo >= 0 else ""
        bare = re.fullmatch(rf"(?:([\w.]+)\.)?{re.escape(symbol.old)}", label)
        if bare and (not bare.group(1) or bare.group(1) in symbol.modules):
            at = hi - len(symbol.old)
            if at not in taken:
                out.changes.append(Change(row, at, hi, symbol.new))
    for change in out.changes:
        out.left.pop((row, change.start), None)
    return out
