"""read_file returns a text file's content exactly, and refuses what it cannot show."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.repos import write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.read_file import SKILL, read_file

MakeRepo = Callable[[dict[str, str]], Path]


async def read(ws: Path, **args: object) -> dict[str, Any]:
    result = await read_file(SKILL.parse_args(args), SkillContext(workspace=ws, step_id="s1"))
    return {"summary": result.summary, **result.data}


async def test_reads_text_lines_and_hash(make_repo: MakeRepo) -> None:
    repo = make_repo({"src/a.py": "x = 'é'\ny = 2\n"})
    out = await read(repo, path="src/a.py")
    raw = (repo / "src/a.py").read_bytes()
    assert out["text"] == "x = 'é'\ny = 2\n"
    assert out["lines"] == 2
    assert out["sha256"] == hashlib.sha256(raw).hexdigest()
    assert out["path"] == "src/a.py"
    assert out["summary"] == f"read src/a.py: 2 lines, {len(raw)} bytes"


async def test_line_ends_are_kept_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "crlf.txt").write_bytes(b"a\r\nb\r\nlast")
    out = await read(tmp_path, path="crlf.txt")
    assert out["text"] == "a\r\nb\r\nlast"
    assert out["lines"] == 3  # the last line has no newline but still counts


async def test_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    out = await read(tmp_path, path="empty")
    assert (out["text"], out["lines"]) == ("", 0)


async def test_binary_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(SkillError, match=r"'img\.png' is binary") as info:
        await read(tmp_path, path="img.png")
    assert info.value.step_id == "s1"


async def test_non_utf8_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café\n".encode("latin-1"))
    with pytest.raises(SkillError, match=r"not valid UTF-8 \(bad byte at offset 3\)"):
        await read(tmp_path, path="latin.txt")


async def test_files_over_the_cap_are_refused_not_cut(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 101)
    with pytest.raises(SkillError, match=r"101 bytes, over the 100-byte cap; raise max_bytes"):
        await read(tmp_path, path="big.txt", max_bytes=100)
    out = await read(tmp_path, path="big.txt", max_bytes=101)
    assert len(out["text"]) == 101


async def test_missing_files_and_directories_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(SkillError, match=r"'nope\.txt' does not exist"):
        await read(tmp_path, path="nope.txt")
    with pytest.raises(SkillError, match="not a regular file"):
        await read(tmp_path, path="dir")


async def test_a_symlink_inside_the_workspace_is_followed(tmp_path: Path) -> None:
    write(tmp_path, "real.txt", "hello\n")
    (tmp_path / "alias.txt").symlink_to("real.txt")
    out = await read(tmp_path, path="alias.txt")
    assert out["text"] == "hello\n"
    assert out["path"] == "real.txt"


async def test_escapes_are_refused(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.txt": "a\n"})
    write(tmp_path, "secret.txt", "secret\n")
    (repo / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (repo / "gitcfg").symlink_to(repo / ".git" / "config")
    for path in (
        "../secret.txt",
        str(tmp_path / "secret.txt"),
        "leak.txt",
        ".git/config",
        "gitcfg",
    ):
        with pytest.raises(WorkspaceViolation):
            await read(repo, path=path)


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        SKILL.parse_args({"path": "a", "max_bytes": 0})
