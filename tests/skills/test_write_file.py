"""write_file writes exactly the given content, atomically, and only inside the workspace."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, snapshot, write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.write_file import SKILL, write_file

MakeRepo = Callable[[dict[str, str]], Path]


async def put(ws: Path, path: str, content: str, **args: object) -> Any:
    parsed = SKILL.parse_args({"path": path, "content": content, **args})
    return await write_file(parsed, SkillContext(workspace=ws, step_id="s1"))


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


async def test_creates_a_new_file_with_its_folders(make_repo: MakeRepo, umask_022: None) -> None:
    repo = make_repo({"README.md": "hi\n"})
    result = await put(repo, "src/pkg/new.py", "x = 'é'\r\nY = 2\n")
    path = repo / "src/pkg/new.py"
    assert path.read_bytes() == "x = 'é'\r\nY = 2\n".encode()
    assert result.data["created"] is True
    assert result.data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.files_written == ["src/pkg/new.py"]
    assert result.summary.startswith("created src/pkg/new.py (")
    # A new file gets the usual permissions, not the temp file's 0600.
    assert path.stat().st_mode & 0o777 == 0o644
    assert git(repo, "status", "--porcelain") == "?? src/\n"


async def test_replaces_an_existing_file_keeping_its_mode(tmp_path: Path) -> None:
    script = write(tmp_path, "run.sh", "#!/bin/sh\necho old\n")
    script.chmod(0o750)
    result = await put(tmp_path, "run.sh", "#!/bin/sh\necho new\n")
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert script.stat().st_mode & 0o7777 == 0o750
    assert result.data["created"] is False
    assert result.summary.startswith("replaced run.sh")


async def test_an_empty_content_writes_an_empty_file(tmp_path: Path) -> None:
    await put(tmp_path, "empty.txt", "")
    assert (tmp_path / "empty.txt").read_bytes() == b""


async def test_no_temp_file_is_left_behind(tmp_path: Path) -> None:
    await put(tmp_path, "a.txt", "one")
    await put(tmp_path, "a.txt", "two")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


async def test_missing_folders_without_create_dirs_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match="set create_dirs: true") as info:
        await put(tmp_path, "new/dir/a.txt", "x", create_dirs=False)
    assert info.value.step_id == "s1"
    assert list(tmp_path.iterdir()) == []


async def test_a_directory_or_a_file_in_the_way_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    write(tmp_path, "file.txt", "keep\n")
    before = snapshot(tmp_path)
    with pytest.raises(SkillError, match="'dir' is a directory"):
        await put(tmp_path, "dir", "x")
    with pytest.raises(SkillError, match=r"'file\.txt' is a file, not a directory"):
        await put(tmp_path, "file.txt/child.txt", "x")
    with pytest.raises(SkillError, match="a file is in the way"):
        await put(tmp_path, "file.txt/deeper/child.txt", "x")
    assert snapshot(tmp_path) == before


async def test_escapes_are_refused_and_nothing_is_created(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"a.txt": "a\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to(outside)
    (repo / "dangling.txt").symlink_to(outside / "created-through-link.txt")
    before = snapshot(repo)
    hooks = sorted(p.name for p in (repo / ".git" / "hooks").iterdir())
    for path in (
        "../evil.txt",
        str(outside / "abs.txt"),
        "out/evil.txt",
        "dangling.txt",
        ".git/hooks/pre-commit",
        ".phasegraph/x.json",
        "src/../../evil.txt",
    ):
        with pytest.raises(WorkspaceViolation):
            await put(repo, path, "pwned")
    assert snapshot(repo) == before
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()
    assert not (repo / ".phasegraph").exists()
    assert sorted(p.name for p in (repo / ".git" / "hooks").iterdir()) == hooks
