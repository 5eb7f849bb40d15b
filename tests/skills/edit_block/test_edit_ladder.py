"""The matching ladder: exact, then line endings, trailing whitespace, a uniform re-indent.

A looser rung is taken only when it finds exactly one candidate, and the edit and the dry run
before a run (one matcher) agree on every case. Each case runs on a real file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.repos import snapshot

from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.preflight.dry_run import dry_run_writes
from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.edit_block.matcher import match_block
from phasegraph.skills.edit_block.skill import SKILL, edit_block
from phasegraph.skills.registry import default_registry


@dataclass(frozen=True)
class Case:
    name: str
    before: bytes
    search: str
    replace: str
    after: bytes
    rung: str


METHOD = b"class Greeter:\n    def greet(self, name):\n        return 'hi ' + name\n"

ONE_CANDIDATE = [
    Case("exact", b"a = 1\nb = 2\n", "b = 2", "b = 3", b"a = 1\nb = 3\n", "exact"),
    Case(
        "crlf file, lf search",
        b"one\r\ntwo\r\nthree\r\n",
        "one\ntwo\n",
        "uno\ndos\n",
        b"uno\r\ndos\r\nthree\r\n",
        "line-endings",
    ),
    Case(
        "lf file, crlf search",
        b"one\ntwo\nthree\n",
        "two\r\nthree",
        "dos\r\ntres",
        b"one\ndos\ntres\n",
        "line-endings",
    ),
    Case(
        "trailing spaces in the file",
        b"x = 1   \ny = 2\nz = 3\n",
        "x = 1\ny = 2\n",
        "x = 10\ny = 20\n",
        b"x = 10\ny = 20\nz = 3\n",
        "trailing-whitespace",
    ),
    Case(
        "trailing spaces and tabs in the search, crlf file",
        b"def f():\r\n\treturn 1\r\n",
        "def f():  \n\treturn 1\t\n",
        "def f():\n\treturn 2\n",
        b"def f():\r\n\treturn 2\r\n",
        "trailing-whitespace",
    ),
    Case(
        "a method sent without its class indentation",
        METHOD,
        "def greet(self, name):\n    return 'hi ' + name\n",
        "def greet(self, name):\n    if not name:\n        return 'hi'\n    return 'hi ' + name\n",
        b"class Greeter:\n    def greet(self, name):\n        if not name:\n"
        b"            return 'hi'\n        return 'hi ' + name\n",
        "reindent",
    ),
    Case(
        "a block sent indented too deep",
        METHOD,
        "            return 'hi ' + name",
        "            return 'hello ' + name",
        b"class Greeter:\n    def greet(self, name):\n        return 'hello ' + name\n",
        "reindent",
    ),
    Case(
        "tab-indented file, one tab missing, crlf",
        b"if a:\r\n\tif b:\r\n\t\tgo()\r\n\r\n\t\tstop()\r\n",
        "if b:\n\tgo()\n\n\tstop()",
        "if b:\n\tgo(1)\n\n\tstop()",
        b"if a:\r\n\tif b:\r\n\t\tgo(1)\r\n\r\n\t\tstop()\r\n",
        "reindent",
    ),
]

TWO_CANDIDATES = [
    Case("exact twice", b"a = 1\nb = 2\na = 1\n", "a = 1", "a = 3", b"", "1, 3"),
    Case(
        "crlf twice",
        b"one\r\ntwo\r\nx\r\none\r\ntwo\r\n",
        "one\ntwo",
        "1\n2",
        b"",
        "1, 4",
    ),
    Case(
        "trailing spaces twice",
        b"x = 1 \ny = 2\n\nx = 1\ny = 2  \n",
        "x = 1\ny = 2\n",
        "x = 0\n",
        b"",
        "1, 4",
    ),
    Case(
        "tab-indented twice",
        b"if a:\n\tgo(1)\n\tstop()\nif b:\n\tgo(1)\n\tstop()\n",
        "go(1)\nstop()\n",
        "go(2)\nstop()\n",
        b"",
        "2, 5",
    ),
    Case(
        "re-indented block in two classes",
        METHOD + b"\n\n" + METHOD.replace(b"Greeter", b"Other"),
        "def greet(self, name):\n    return 'hi ' + name\n",
        "def greet(self, name):\n    return name\n",
        b"",
        "2, 7",
    ),
]


SUMMARY = {
    "line-endings": "(matched ignoring line endings)",
    "trailing-whitespace": "(matched ignoring trailing whitespace)",
    "reindent": "(matched once re-indented, ",
}


async def edit(ws: Path, search: str, replace: str, path: str = "f.py") -> Any:
    args = SKILL.parse_args({"path": path, "search": search, "replace": replace})
    return await edit_block(args, SkillContext(workspace=ws, step_id="e1"))


def dry_run(ws: Path, *edits: tuple[str, str]) -> list[str]:
    steps = [
        {"id": f"e{n}", "skill": "edit_block", "args": {"path": "f.py", "search": s, "replace": r}}
        for n, (s, r) in enumerate(edits, start=1)
    ]
    return dry_run_writes(parse_plan({"goal": "g", "steps": steps}), default_registry(), ws)


@pytest.mark.parametrize("case", ONE_CANDIDATE, ids=lambda c: c.name)
async def test_one_candidate_applies_and_names_its_rung(case: Case, tmp_path: Path) -> None:
    (tmp_path / "f.py").write_bytes(case.before)
    assert dry_run(tmp_path, (case.search, case.replace)) == []
    result = await edit(tmp_path, case.search, case.replace)
    assert (tmp_path / "f.py").read_bytes() == case.after
    assert result.data["match"] == case.rung
    assert result.data["changed"] is True
    assert result.summary.startswith("edited f.py at line ")
    if case.rung == "exact":
        assert "matched" not in result.summary
    else:
        assert SUMMARY[case.rung] in result.summary


@pytest.mark.parametrize("case", TWO_CANDIDATES, ids=lambda c: c.name)
async def test_two_candidates_are_refused_with_their_lines(case: Case, tmp_path: Path) -> None:
    (tmp_path / "f.py").write_bytes(case.before)
    before = snapshot(tmp_path)
    [problem] = dry_run(tmp_path, (case.search, case.replace))
    assert f"(at lines {case.rung})" in problem
    assert problem.startswith("step 'e1': ")
    with pytest.raises(SkillError) as info:
        await edit(tmp_path, case.search, case.replace)
    assert str(info.value) == problem  # one matcher, one message
    assert "matches 2 times" in str(info.value) and "exactly once" in str(info.value)
    assert snapshot(tmp_path) == before


def test_the_first_rung_that_matches_decides() -> None:
    """An exact match wins over looser candidates elsewhere: today's edits keep their meaning."""
    text = "x = 1\nx = 1  \n"
    found = match_block("f.py", text, "x = 1\n", "x = 2\n")
    assert not isinstance(found, str)
    assert (found.match, found.line) == ("exact", 1)
    assert found.apply(text) == "x = 2\nx = 1  \n"


async def test_the_summary_names_a_loose_rung(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_bytes(METHOD)
    result = await edit(tmp_path, "return 'hi ' + name", "return name")
    assert result.summary == "edited f.py at line 3: replaced 1 line(s) with 1"
    result = await edit(tmp_path, "def greet(self, name):\n    return name", "pass")
    assert result.summary == (
        "edited f.py at line 2: replaced 2 line(s) with 1 (matched once re-indented, +4 spaces)"
    )
    assert (tmp_path / "f.py").read_bytes() == b"class Greeter:\n    pass\n"


async def test_a_replacement_that_cannot_shift_is_not_a_match(tmp_path: Path) -> None:
    """Shifting left would cut into a replacement line indented less than the shift."""
    (tmp_path / "f.py").write_bytes(METHOD)
    with pytest.raises(SkillError, match="differs only in whitespace or indentation"):
        await edit(tmp_path, "            return 'hi ' + name", "  return name")
    assert (tmp_path / "f.py").read_bytes() == METHOD


async def test_already_applied_is_a_success_that_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(b"a = 1\nb = 20\n")
    stamp = path.stat().st_mtime_ns
    assert dry_run(tmp_path, ("b = 2\n", "b = 20\n")) == []
    result = await edit(tmp_path, "b = 2\n", "b = 20\n")
    assert result.data["match"] == "already-applied"
    assert result.data["changed"] is False
    assert result.data["line"] == 2
    assert result.files_written == []
    assert result.summary == (
        "edit of f.py already applied at line 2 (the replacement is there, the search text "
        "is not): nothing changed"
    )
    assert path.read_bytes() == b"a = 1\nb = 20\n" and path.stat().st_mtime_ns == stamp


async def test_already_applied_holds_across_a_reindent(tmp_path: Path) -> None:
    """An edit that landed through the re-indent rung is recognised when it is sent again."""
    (tmp_path / "f.py").write_bytes(METHOD)
    search, replace = "def greet(self, name):\n    return 'hi ' + name\n", "def greet(self):\n"
    first = await edit(tmp_path, search, replace)
    landed = (tmp_path / "f.py").read_bytes()
    again = await edit(tmp_path, search, replace)
    assert (first.data["match"], again.data["match"]) == ("reindent", "already-applied")
    assert (tmp_path / "f.py").read_bytes() == landed == b"class Greeter:\n    def greet(self):\n"


async def test_a_replace_that_contains_the_search_is_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(b"A = 1\nB = 2\n")
    first = await edit(tmp_path, "A = 1", "A = 1 + 10")
    second = await edit(tmp_path, "A = 1", "A = 1 + 10")
    assert path.read_bytes() == b"A = 1 + 10\nB = 2\n"  # not "A = 1 + 10 + 10"
    assert (first.data["match"], second.data["match"]) == ("exact", "already-applied")
    assert dry_run(tmp_path, ("A = 1", "A = 1 + 10")) == []


async def test_a_replace_containing_the_search_beside_a_fresh_occurrence_is_ambiguous(
    tmp_path: Path,
) -> None:
    (tmp_path / "f.py").write_bytes(b"A = 1 + 10\nA = 1\n")
    with pytest.raises(SkillError, match=r"matches 2 times in 'f\.py' \(at lines 1, 2\)"):
        await edit(tmp_path, "A = 1", "A = 1 + 10")
    assert (tmp_path / "f.py").read_bytes() == b"A = 1 + 10\nA = 1\n"


async def test_not_found_stays_distinct_from_already_applied(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_bytes(b"a = 1\nb = 2\n")
    with pytest.raises(SkillError, match=r"not found in 'f\.py'") as info:
        await edit(tmp_path, "c = 3", "c = 4")
    assert "already applied" not in str(info.value)
    (tmp_path / "f.py").write_bytes(b"c = 4\nc = 4\n")
    with pytest.raises(SkillError, match=r"not found in 'f\.py'") as info:
        await edit(tmp_path, "c = 3", "c = 4")
    assert "its replacement occurs 2 times (at lines 1, 2)" in str(info.value)


def test_the_dry_run_carries_the_shifted_replacement_to_the_next_edit(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_bytes(METHOD)
    first = (
        "def greet(self, name):\n    return 'hi ' + name\n",
        "def greet(self, name):\n    ...\n",
    )
    assert dry_run(tmp_path, first, ("        ...\n", "        pass\n")) == []
    [problem] = dry_run(tmp_path, first, ("return 'hi ' + name", "x"))
    assert problem.startswith("step 'e2' (on f.py as the plan's earlier writes leave it): ")
    assert "not found" in problem
