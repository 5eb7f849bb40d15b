"""Property tests: whatever a plan or an edit block holds, it stays inside or is refused.

Hypothesis draws hostile plans, paths and edit blocks; each example runs against
real files in a fresh sandbox (symlinks out, .git, .phasegraph), and checks the
outcome against an independent oracle built on ``os.path.realpath``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st
from support.sandbox import Sandbox, build_sandbox, snapshot_tree

from phasegraph.graph.model.plan import parse_plan, validate_plan
from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import PlanError, SkillError
from phasegraph.skills.edit_block.matcher import match_block
from phasegraph.skills.edit_block.skill import SKILL as EDIT_BLOCK
from phasegraph.skills.registry import default_registry
from phasegraph.skills.write_file import SKILL as WRITE_FILE

REGISTRY = default_registry()
SKILL_NAMES = [s.name for s in REGISTRY]

# Path fragments a hostile plan strings together.
FRAGMENTS = [
    "..",
    ".",
    "",
    "lib.py",
    "pkg",
    "mod.py",
    "new.txt",
    ".git",
    ".GIT",
    "HEAD",
    ".phasegraph",
    "escape_dir",
    "escape_file",
    "abs_link",
    "gitlink",
    "up",
    "outside",
    "secret.txt",
    "~",
    "-rf",
    "a b",
    "é",
    "\\",
    "C:",
    "%2e%2e",
]
HOSTILE_PATHS = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("/".join),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    st.text(max_size=20),
)


def inside(ws: Path, rel: str) -> bool:
    """The oracle: does ``rel`` name a place in ``ws`` a run may write, by realpath alone?"""
    root = os.path.realpath(ws)
    real = os.path.realpath(Path(root) / rel.replace("\\", "/"))
    if real != root and not real.startswith(root + os.sep):
        return False
    parts = Path(os.path.relpath(real, root)).parts
    return not any(p.casefold() in (".git", ".phasegraph") for p in parts)


def box() -> tuple[tempfile.TemporaryDirectory[str], Sandbox]:
    tmp = tempfile.TemporaryDirectory(prefix="phasegraph-security-")
    return tmp, build_sandbox(Path(tmp.name), git=False)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


PLAIN_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
# Each skill's arguments, with hostile paths where it takes paths.
ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "read_file": st.fixed_dictionaries({"path": HOSTILE_PATHS}),
    "get_file_outline": st.fixed_dictionaries({"path": HOSTILE_PATHS}),
    "rg_search": st.fixed_dictionaries({"pattern": st.just("x")}, optional={"path": HOSTILE_PATHS}),
    "edit_block": st.fixed_dictionaries(
        {"path": HOSTILE_PATHS, "search": st.just("X"), "replace": PLAIN_TEXT}
    ),
    "write_file": st.fixed_dictionaries({"path": HOSTILE_PATHS, "content": PLAIN_TEXT}),
    "run_ruff": st.fixed_dictionaries({}, optional={"paths": st.lists(HOSTILE_PATHS, max_size=3)}),
    "run_mypy": st.fixed_dictionaries({}, optional={"paths": st.lists(HOSTILE_PATHS, max_size=3)}),
    "run_pytest": st.fixed_dictionaries(
        {},
        optional={
            "paths": st.lists(HOSTILE_PATHS, max_size=3),
            "args": st.lists(st.sampled_from(["-p", "x", "-k", "--rootdir=/", "-q"]), max_size=3),
        },
    ),
    "fetch_url": st.fixed_dictionaries({"url": st.sampled_from(["http://10.0.0.1/", "file:///"])}),
    "git_checkpoint": st.fixed_dictionaries({"message": PLAIN_TEXT}),
}


@st.composite
def hostile_steps(draw: st.DrawFn) -> dict[str, Any]:
    skill = draw(st.sampled_from([*SKILL_NAMES, "shell"]))
    args: dict[str, Any] = draw(ARGS.get(skill, st.just({})))
    if draw(st.integers(0, 9)) == 0:  # now and then, junk where arguments go
        args = {**args, draw(st.sampled_from(["bogus", "path", "paths"])): draw(JSONISH)}
    step: dict[str, Any] = {
        "id": draw(
            st.sampled_from(["a", "b", "c", "d", "e"] if draw(st.integers(0, 9)) else ["../x", ""])
        ),
        "skill": skill,
        "args": args,
    }
    if draw(st.integers(0, 4)) == 0:
        step["after"] = draw(st.lists(st.sampled_from(["a", "b", "c", "zzz"]), max_size=2))
    return step


@settings(max_examples=100)
@given(
    raw=st.integers(0, 9).flatmap(
        lambda n: (
            JSONISH.filter(lambda v: not isinstance(v, dict))
            if n == 0
            else st.fixed_dictionaries(
                {
                    "goal": st.just("g" if n > 1 else ""),
                    "steps": st.lists(hostile_steps(), max_size=4),
                }
            )
        )
    )
)
def test_a_hostile_plan_is_accepted_only_when_every_path_stays_inside(raw: Any) -> None:
    tmp, sandbox = box()
    with tmp:
        try:
            plan = parse_plan(raw)
        except PlanError as exc:
            assert exc.problems  # refused, with something to say
            return
        problems = validate_plan(plan, REGISTRY, workspace=sandbox.ws)
        event("refused" if problems else "accepted")
        if problems:
            assert all(p.startswith(("step ", "steps ")) for p in problems), problems
            return
        for step in plan.steps:
            skill = REGISTRY.get(step.skill)
            assert skill is not None
            for name in skill.path_fields():
                value = step.args.get(name, [] if name == "paths" else ".")
                for rel in value if isinstance(value, list) else [value]:
                    assert inside(sandbox.ws, rel), f"{step.id}: {rel!r} was accepted"


@settings(max_examples=100)
@given(rel=HOSTILE_PATHS)
def test_any_path_is_written_inside_or_refused_and_nothing_outside_changes(rel: str) -> None:
    tmp, sandbox = box()
    with tmp:
        before = snapshot_tree(sandbox.root)
        args = WRITE_FILE.parse_args({"path": rel, "content": "PWNED\n"})
        try:
            result = asyncio.run(WRITE_FILE.run(args, SkillContext(workspace=sandbox.ws)))
        except SkillError:
            event("refused")
            assert snapshot_tree(sandbox.root) == before
            return
        event("written")
        assert inside(sandbox.ws, rel)
        written = result.files_written[0]
        changed = sorted(set(snapshot_tree(sandbox.root).items()) ^ set(before.items()))
        # Only the written file (and folders made for it) changed, all under ws/.
        parts = Path(written).parts
        allowed = {"ws/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1)}
        assert {path for path, _ in changed} <= allowed
        assert (sandbox.ws / written).read_text() == "PWNED\n"


def _occurrences(text: str, needle: str) -> int:
    count, start = 0, text.find(needle)
    while start != -1:
        count, start = count + 1, text.find(needle, start + 1)
    return count


LF_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=80)


@settings(max_examples=100)
@given(data=st.data(), text=LF_TEXT, replace=LF_TEXT)
def test_an_edit_changes_exactly_the_matched_span_or_nothing(
    data: st.DataObject, text: str, replace: str
) -> None:
    # Search for a slice of the file (so matches happen) or for arbitrary text.
    search = data.draw(
        st.one_of(
            st.integers(0, len(text)).flatmap(
                lambda i: st.integers(i + 1, max(i + 1, len(text))).map(lambda j: text[i:j])
            ),
            LF_TEXT,
        ).filter(bool)
    )
    with tempfile.TemporaryDirectory() as name:
        ws = Path(name)
        (ws / "f.txt").write_bytes(text.encode())
        args = EDIT_BLOCK.parse_args({"path": "f.txt", "search": search, "replace": replace})
        try:
            result = asyncio.run(EDIT_BLOCK.run(args, SkillContext(workspace=ws)))
        except SkillError:
            event("refused")
            assert _occurrences(text, search) != 1
            assert (ws / "f.txt").read_bytes() == text.encode()
            return
        event(f"edited ({result.data['match']})")
        if result.data["match"] == "exact":
            assert _occurrences(text, search) == 1
            assert (ws / "f.txt").read_bytes() == text.replace(search, replace, 1).encode()
        else:  # a looser rung, or already applied: the one span the matcher chose, or nothing
            found = match_block("f.txt", text, search, replace)
            assert not isinstance(found, str) and found.match == result.data["match"]
            assert (ws / "f.txt").read_bytes() == found.apply(text).encode()
        assert sorted(p.name for p in ws.iterdir()) == ["f.txt"]  # no temporary file left


RAW = st.one_of(
    st.binary(max_size=100),
    st.text(max_size=60).map(str.encode),
    st.tuples(st.text(max_size=30), st.binary(min_size=1, max_size=3), st.text(max_size=30)).map(
        lambda t: t[0].encode() + t[1] + t[2].encode()
    ),
)


@settings(max_examples=100)
@given(data=st.data(), raw=RAW, replace=PLAIN_TEXT)
def test_an_edit_never_mangles_bytes_it_cannot_decode(
    data: st.DataObject, raw: bytes, replace: str
) -> None:
    seen = raw.decode("utf-8", errors="ignore")
    search = data.draw(
        st.one_of(
            st.integers(0, len(seen)).flatmap(
                lambda i: st.integers(i + 1, max(i + 1, len(seen))).map(lambda j: seen[i:j])
            ),
            st.text(max_size=10),
        ).filter(bool)
    )
    try:
        args = EDIT_BLOCK.parse_args({"path": "f.bin", "search": search, "replace": replace})
    except ValueError:
        return  # refused at validation: a NUL byte or a lone surrogate in the plan
    with tempfile.TemporaryDirectory() as name:
        ws = Path(name)
        (ws / "f.bin").write_bytes(raw)
        try:
            asyncio.run(EDIT_BLOCK.run(args, SkillContext(workspace=ws)))
        except SkillError:
            event("refused")
            assert (ws / "f.bin").read_bytes() == raw
            return
        event("edited")
        # It went through: the file was UTF-8 text, and only the matched span changed.
        text = raw.decode("utf-8")
        assert b"\x00" not in raw
        after = (ws / "f.bin").read_bytes().decode("utf-8")
        newline_search = search.replace("\r\n", "\n")
        candidates = {
            text.replace(s, r, 1)
            for s, r in (
                (search, replace),
                (newline_search, replace.replace("\r\n", "\n")),
                (
                    newline_search.replace("\n", "\r\n"),
                    replace.replace("\r\n", "\n").replace("\n", "\r\n"),
                ),
            )
            if _occurrences(text, s) == 1
        }
        found = match_block("f.bin", text, search, replace)  # a looser rung, or already applied
        if not isinstance(found, str):
            candidates.add(found.apply(text))
        assert after in candidates
