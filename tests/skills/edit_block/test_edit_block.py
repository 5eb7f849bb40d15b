"""edit_block replaces exactly one block, keeps the file's style, and proves the write."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from support.repos import git, snapshot, write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.edit_block.skill import SKILL, EditBlockArgs, edit_block

MakeRepo = Callable[[dict[str, str]], Path]

APP = """\
import os


def greet(name):
    return "hello " + name


def main():
    print(greet("world"))
"""


async def edit(ws: Path, path: str, search: str, replace: str) -> Any:
    args = SKILL.parse_args({"path": path, "search": search, "replace": replace})
    return await edit_block(args, SkillContext(workspace=ws, step_id="s1"))


async def test_replaces_the_block_and_reports_it(make_repo: MakeRepo) -> None:
    repo = make_repo({"src/app.py": APP})
    result = await edit(
        repo, "src/app.py", '    return "hello " + name\n', '    return f"hello {name}!"\n'
    )
    new = (repo / "src/app.py").read_bytes()
    assert new == APP.replace('"hello " + name', 'f"hello {name}!"').encode()
    assert result.files_written == ["src/app.py"]
    assert result.data["sha256"] == hashlib.sha256(new).hexdigest()
    assert result.data["line"] == 5
    assert result.data["changed"] is True
    assert result.summary == "edited src/app.py at line 5: replaced 1 line(s) with 1"
    assert git(repo, "status", "--porcelain") == " M src/app.py\n"


async def test_zero_matches_shows_the_nearest_block_and_changes_nothing(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"src/app.py": APP})
    before = snapshot(repo)
    with pytest.raises(SkillError) as info:
        await edit(repo, "src/app.py", 'def greet(person):\n    return "hello " + person\n', "x")
    message = str(info.value)
    assert "search text 'def greet(person):…' not found in 'src/app.py'" in message
    assert "nearest match" in message
    assert "is at line 4" in message
    assert "      4 | def greet(name):" in message
    assert '      5 |     return "hello " + name' in message
    assert info.value.step_id == "s1"
    assert info.value.transient is False
    assert snapshot(repo) == before


async def test_a_whitespace_only_difference_is_named(tmp_path: Path) -> None:
    write(tmp_path, "app.py", APP)
    with pytest.raises(SkillError, match="differs only in whitespace or indentation") as info:
        await edit(tmp_path, "app.py", 'def greet(name):\n  return "hello " + name\n', "x")
    assert "at line 4" in str(info.value)


async def test_nothing_similar_says_so(tmp_path: Path) -> None:
    write(tmp_path, "app.py", APP)
    with pytest.raises(SkillError, match="nothing in it looks similar"):
        await edit(tmp_path, "app.py", "ZZZZZZZZZZZZ", "x")


async def test_several_matches_list_their_lines(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "x = 1\ny = 2\nx = 1\n\nx = 1\n")
    before = snapshot(tmp_path)
    with pytest.raises(SkillError) as info:
        await edit(tmp_path, "a.txt", "x = 1", "x = 3")
    assert "matches 3 times in 'a.txt' (at lines 1, 3, 5)" in str(info.value)
    assert "exactly once" in str(info.value)
    assert snapshot(tmp_path) == before


async def test_overlapping_matches_count_as_several(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "aaa\n")
    with pytest.raises(SkillError, match="matches 2 times"):
        await edit(tmp_path, "a.txt", "aa", "b")


async def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    (tmp_path / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await edit(tmp_path, "win.txt", "one\ntwo\n", "uno\ndos\nmas\n")
    assert (tmp_path / "win.txt").read_bytes() == b"uno\r\ndos\r\nmas\r\nthree\r\n"


async def test_lf_files_stay_lf_when_the_search_has_crlf(tmp_path: Path) -> None:
    (tmp_path / "unix.txt").write_bytes(b"one\ntwo\n")
    await edit(tmp_path, "unix.txt", "one\r\ntwo", "1\r\n2")
    assert (tmp_path / "unix.txt").read_bytes() == b"1\n2\n"


async def test_mode_bits_survive(tmp_path: Path) -> None:
    script = write(tmp_path, "run.sh", "#!/bin/sh\necho old\n")
    script.chmod(0o754)
    await edit(tmp_path, "run.sh", "echo old", "echo new")
    assert script.stat().st_mode & 0o7777 == 0o754
    assert script.read_text() == "#!/bin/sh\necho new\n"


async def test_unicode_and_a_bom_survive(tmp_path: Path) -> None:
    (tmp_path / "u.txt").write_bytes("\ufeffcafé = 1\nnaïve = 2\n".encode())
    await edit(tmp_path, "u.txt", "naïve = 2", "naïve = 3 ✓")
    assert (tmp_path / "u.txt").read_bytes() == "\ufeffcafé = 1\nnaïve = 3 ✓\n".encode()


async def test_same_text_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "keep\n")
    stamp = path.stat().st_mtime_ns
    result = await edit(tmp_path, "a.txt", "keep", "keep")
    assert result.data["changed"] is False
    assert result.files_written == []
    assert path.stat().st_mtime_ns == stamp


async def test_no_temp_file_is_left_behind(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "old\n")
    await edit(tmp_path, "a.txt", "old", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


async def test_binary_and_non_utf8_files_are_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"old\x00data")
    (tmp_path / "latin.txt").write_bytes("old café".encode("latin-1"))
    before = snapshot(tmp_path)
    with pytest.raises(SkillError, match=r"'bin\.dat' is binary"):
        await edit(tmp_path, "bin.dat", "old", "new")
    with pytest.raises(SkillError, match=r"'latin\.txt' is not valid UTF-8"):
        await edit(tmp_path, "latin.txt", "old", "new")
    assert snapshot(tmp_path) == before


async def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match=r"'nope\.py' does not exist"):
        await edit(tmp_path, "nope.py", "a", "b")
    assert list(tmp_path.iterdir()) == []


async def test_an_empty_search_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "x\n")
    with pytest.raises(ValidationError, match="search"):
        SKILL.parse_args({"path": "a.txt", "search": "", "replace": "y"})
    unchecked = EditBlockArgs.model_construct(path="a.txt", search="", replace="y")
    with pytest.raises(SkillError, match="non-empty search"):
        await edit_block(unchecked, SkillContext(workspace=tmp_path))
    assert (tmp_path / "a.txt").read_text() == "x\n"


async def test_a_symlink_inside_edits_its_target(tmp_path: Path) -> None:
    write(tmp_path, "real.txt", "old\n")
    (tmp_path / "alias.txt").symlink_to("real.txt")
    result = await edit(tmp_path, "alias.txt", "old", "new")
    assert (tmp_path / "real.txt").read_text() == "new\n"
    assert (tmp_path / "alias.txt").is_symlink()
    assert result.files_written == ["real.txt"]


async def test_escapes_are_refused_and_nothing_changes(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.txt": "old\n"})
    outside = write(tmp_path, "outside.txt", "old\n")
    (repo / "leak.txt").symlink_to(outside)
    before = snapshot(repo)
    config = (repo / ".git" / "config").read_bytes()
    for path in ("../outside.txt", str(outside), "leak.txt", ".git/config", "a/../../x"):
        with pytest.raises(WorkspaceViolation) as info:
            await edit(repo, path, "old", "new")
        assert info.value.step_id == "s1"
    assert snapshot(repo) == before
    assert outside.read_text() == "old\n"
    assert (repo / ".git" / "config").read_bytes() == config
