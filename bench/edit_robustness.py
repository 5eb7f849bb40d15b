"""Bench: how many imperfect SEARCH blocks land, and land right, before and after the ladder.

Generates ``--blocks`` edits (200 by default) over real-looking Python modules. Each edit
has a known intended result (the module with one block of a function body rewritten), and
the SEARCH/REPLACE pair is sent the way models send them, with one drift in ten kinds:
none, a CRLF file, a CRLF search, trailing spaces in the search or in the file, the block
sent without its indentation or indented too deep, a tab-indented file sent one tab short,
a CRLF file sent without indentation, and a block that occurs twice once re-indented (the
one right answer there is a refusal). Each edit runs twice on a real file: "exact_only" is
edit_block's rule before the ladder (the search as given, or in the file's newline), "ladder"
is the edit_block skill itself. A wrong apply is a file that changed into anything but the
intended result; it must be 0. The ladder's edits are then sent again, as a resumed run
would: none may change the file. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import emit

from phasegraph import SkillContext
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.edit_block.ladder import find_all
from phasegraph.skills.edit_block.matcher import ALREADY_APPLIED
from phasegraph.skills.edit_block.skill import SKILL, edit_block

DRIFTS = [
    "none",
    "crlf-file",
    "crlf-search",
    "trailing-search",
    "trailing-file",
    "dedented",
    "over-indented",
    "tabs-one-short",
    "crlf-dedented",
    "duplicate",
]

WORDS = [
    "user", "order", "item", "cache", "token", "price", "total", "name", "path", "config",
    "limit", "count", "result", "record", "event", "queue", "batch", "score", "owner", "state",
]  # fmt: skip


@dataclass(frozen=True)
class Edit:
    drift: str
    before: bytes  # the file as it is on disk
    search: str  # as the model sends it
    replace: str
    after: bytes | None  # the intended result; None: the one right answer is a refusal


def function(rng: random.Random, indent: str, name: str) -> list[str]:
    """A small function: a docstring, a few statements, an if-block, a return."""
    a, b, c = rng.sample(WORDS, 3)
    body = [
        f'"""Return the {a} of {b} for {name}."""',
        f"{a} = {b}.get({c!r}, {rng.randint(0, 99)})",
        f"if {a} > {rng.randint(100, 999)}:",
        f"    {a} = {a} // {rng.randint(2, 9)}",
        f"    {c}.append({a})",
        f"{b}[{name!r}] = {a} + {rng.randint(1, 50)}",
        f"return {a}",
    ]
    return [f"{indent}def {name}(self, {b}, {c}):"] + [indent + "    " + line for line in body]


def module(rng: random.Random, classes: int = 3, methods: int = 4) -> tuple[list[str], list[int]]:
    """A module's lines and the index of each method's docstring line."""
    lines = ['"""A generated module of the bench."""', "", "from __future__ import annotations", ""]
    starts = []
    for k in range(classes):
        lines += ["", f"class {rng.choice(WORDS).title()}Service{k}:", f'    """Service {k}."""']
        for m in range(methods):
            lines.append("")
            starts.append(len(lines) + 1)  # the def goes at len(lines)
            lines += function(rng, "    ", f"{rng.choice(WORDS)}_{k}_{m}")
    return lines, starts


def shift(text: str, add: str = "", cut: int = 0) -> str:
    """Every non-blank line of ``text`` with ``cut`` characters removed, then ``add`` put in
    front."""
    return "\n".join(add + line[cut:] if line.strip() else line for line in text.split("\n"))


def make_edit(rng: random.Random, drift: str) -> Edit:
    lines, starts = module(rng)
    while True:
        first = rng.choice(starts) + rng.randint(1, 3)  # a statement, past the docstring
        size = rng.randint(2, 4)
        block = "\n".join(lines[first : first + size]) + "\n"
        if len(find_all("\n".join(lines) + "\n", block)) == 1:
            break
    head = lines[first]
    pad = head[: len(head) - len(head.lstrip())]
    rewritten = [
        head.replace(" = ", " = 1 + ", 1) if " = " in head else head + "  # checked",
        *([] if head.endswith(":") else [f"{pad}log.debug({rng.choice(WORDS)!r})"]),
        *lines[first + 1 : first + size],
    ]
    replace = "\n".join(rewritten) + "\n"
    if drift == "duplicate":
        # The same method again in a second copy of its class: two candidates once re-indented.
        dup = [*lines, "", "class Copy:", *lines[first - 3 : first + size + 3]]
        text = "\n".join(dup) + "\n"
        search, sent = shift(block, cut=8), shift(replace, cut=8)
        return Edit(drift, text.encode(), search, sent, None)
    text = "\n".join(lines) + "\n"
    after = text.replace(block, replace, 1)
    search, sent = block, replace
    if drift == "crlf-file":
        text, after = text.replace("\n", "\r\n"), after.replace("\n", "\r\n")
    elif drift == "crlf-search":
        search, sent = search.replace("\n", "\r\n"), sent.replace("\n", "\r\n")
    elif drift == "trailing-search":
        search = "\n".join(
            ln + "  " if ln and rng.random() < 0.6 else ln for ln in search.split("\n")
        )
        search = search if search != block else search.replace("\n", "   \n", 1)
    elif drift == "trailing-file":
        dirty = block.replace("\n", " \t\n", 1)
        text = text.replace(block, dirty, 1)
    elif drift == "dedented":
        search, sent = shift(search, cut=8), shift(sent, cut=8)
    elif drift == "over-indented":
        search, sent = shift(search, add="    "), shift(sent, add="    ")
    elif drift == "tabs-one-short":
        text, after = tabs(text), tabs(after)
        search, sent = shift(tabs(search), cut=1), shift(tabs(sent), cut=1)
    elif drift == "crlf-dedented":
        text, after = text.replace("\n", "\r\n"), after.replace("\n", "\r\n")
        search, sent = shift(search, cut=8), shift(sent, cut=8)
    return Edit(drift, text.encode(), search, sent, after.encode())


def tabs(text: str) -> str:
    """Indentation of four spaces a level as one tab a level."""
    out = []
    for line in text.split("\n"):
        bare = line.lstrip(" ")
        out.append("\t" * ((len(line) - len(bare)) // 4) + bare)
    return "\n".join(out)


def exact_only(before: bytes, search: str, replace: str) -> bytes | None:
    """edit_block's rule before the ladder: the search in the file's newline, else as given,
    exactly once (``None``: refused)."""
    text = before.decode()
    crlf = text.count("\r\n")
    newline = "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"
    for s, r in ((convert(search, newline), convert(replace, newline)), (search, replace)):
        found = find_all(text, s)
        if found:
            return (
                (text[: found[0]] + r + text[found[0] + len(s) :]).encode()
                if len(found) == 1
                else None
            )
    return None


def convert(text: str, newline: str) -> str:
    flat = text.replace("\r\n", "\n")
    return flat if newline == "\n" else flat.replace("\n", "\r\n")


async def ladder(ws: Path, edit: Edit) -> tuple[bytes | None, bool]:
    """The skill on a real file: the file after it (``None``: refused), and whether sending
    the same edit again changed the file."""
    path = ws / "mod.py"
    path.write_bytes(edit.before)
    args = SKILL.parse_args({"path": "mod.py", "search": edit.search, "replace": edit.replace})
    ctx = SkillContext(workspace=ws, step_id="edit")
    try:
        await edit_block(args, ctx)
    except SkillError:
        return None, False
    landed = path.read_bytes()
    try:
        again = await edit_block(args, ctx)
    except SkillError:
        return landed, True
    return landed, path.read_bytes() != landed or again.data["match"] != ALREADY_APPLIED


def tally(results: list[tuple[Edit, bytes | None]]) -> dict[str, Any]:
    applied = sum(1 for edit, out in results if out is not None and out == edit.after)
    wrong = sum(1 for edit, out in results if out is not None and out != edit.after)
    return {
        "applied": applied,
        "apply_rate": round(applied / len(results), 3),
        "wrong_applies": wrong,
        "refused": sum(1 for _, out in results if out is None),
        "refused_rightly": sum(1 for edit, out in results if out is None and edit.after is None),
    }


async def main(argv: list[str]) -> None:
    count = int(argv[argv.index("--blocks") + 1]) if "--blocks" in argv else 200
    rng = random.Random(15)
    edits = [make_edit(rng, DRIFTS[n % len(DRIFTS)]) for n in range(count)]
    old: list[tuple[Edit, bytes | None]] = []
    new: list[tuple[Edit, bytes | None]] = []
    resend_changes = 0
    with tempfile.TemporaryDirectory(prefix="phasegraph-bench-") as tmp:
        for edit in edits:
            old.append((edit, exact_only(edit.before, edit.search, edit.replace)))
            out, changed_again = await ladder(Path(tmp), edit)
            new.append((edit, out))
            resend_changes += changed_again
    by_drift: dict[str, dict[str, int]] = {}
    for (edit, before_out), (_, ladder_out) in zip(old, new, strict=True):
        row = by_drift.setdefault(edit.drift, Counter())
        row["blocks"] += 1
        row["exact_only"] += before_out is not None and before_out == edit.after
        row["ladder"] += ladder_out is not None and ladder_out == edit.after
    emit(
        {
            "bench": "edit_robustness",
            "blocks": count,
            "should_refuse": sum(1 for e in edits if e.after is None),
            "exact_only": tally(old),
            "ladder": tally(new),
            "resend_changes": resend_changes,
            "by_drift": {k: dict(v) for k, v in by_drift.items()},
        }
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
