"""Path confinement and atomic writes: the guards every file skill goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.repos import snapshot

from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.guards.confined_io import read_confined, write_confined
from phasegraph.skills.guards.workspace import (
    atomic_write,
    relative_name,
    resolve_in_workspace,
    static_path_problem,
    workspace_relative,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("x = 1\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


@pytest.mark.parametrize("rel", ["a.py", "src/a.py", ".", "./src", "src/../a.py", "a b/c.txt"])
def test_static_accepts_relative_paths_that_stay_inside(rel: str) -> None:
    assert static_path_problem(rel) is None


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("", "empty"),
        ("a\x00b", "NUL"),
        ("/etc/passwd", "absolute"),
        ("C:/Windows/win.ini", "absolute"),
        ("../x", "climbs out"),
        ("src/../../x", "climbs out"),
        ("..\\x", "climbs out"),
        (".git/config", ".git/"),
        ("./.git", ".git/"),
        (".phasegraph/runs.db", ".phasegraph/"),
    ],
)
def test_static_refuses_escapes_with_a_reason(rel: str, why: str) -> None:
    problem = static_path_problem(rel)
    assert problem is not None
    assert why in problem


def test_resolve_gives_the_real_path_inside(ws: Path) -> None:
    assert resolve_in_workspace(ws, "src/a.py") == (ws / "src" / "a.py").resolve()
    assert resolve_in_workspace(ws, ".") == ws.resolve()


def test_resolve_refuses_a_symlink_that_points_out(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "out").symlink_to(outside)
    (ws / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(WorkspaceViolation, match="outside the workspace") as info:
        resolve_in_workspace(ws, "out/new.txt", step_id="s1")
    assert info.value.step_id == "s1"
    with pytest.raises(WorkspaceViolation, match="symlink"):
        resolve_in_workspace(ws, "passwd")


def test_resolve_refuses_routes_into_git(ws: Path) -> None:
    (ws / "cfg").symlink_to(ws / ".git" / "config")
    for rel in ("cfg", "src/../.git/config", ".git"):
        with pytest.raises(WorkspaceViolation, match=r"\.git/"):
            resolve_in_workspace(ws, rel)


def test_violations_are_skill_errors_that_are_not_retried(ws: Path) -> None:
    with pytest.raises(SkillError) as info:
        resolve_in_workspace(ws, "../x")
    assert isinstance(info.value, WorkspaceViolation)
    assert info.value.transient is False


def test_must_exist_names_the_missing_path(ws: Path) -> None:
    with pytest.raises(WorkspaceViolation, match=r"'nope\.txt' does not exist"):
        resolve_in_workspace(ws, "nope.txt", must_exist=True)
    assert resolve_in_workspace(ws, "nope.txt") == ws.resolve() / "nope.txt"


def test_workspace_relative_is_posix(ws: Path) -> None:
    assert workspace_relative(ws, ws / "src" / "a.py") == "src/a.py"


def test_atomic_write_replaces_and_keeps_mode(ws: Path) -> None:
    target = ws / "run.sh"
    target.write_text("old\n")
    target.chmod(0o750)
    atomic_write(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o7777 == 0o750


def test_atomic_write_applies_an_explicit_mode(ws: Path) -> None:
    target = ws / "new.txt"
    atomic_write(target, b"x", mode=0o640)
    assert target.stat().st_mode & 0o7777 == 0o640


def test_atomic_write_leaves_no_temp_file_when_it_fails(ws: Path) -> None:
    # The rename onto a directory fails after the temporary file was written.
    before = snapshot(ws)
    with pytest.raises(OSError):
        atomic_write(ws / "src", b"data")
    assert snapshot(ws) == before
    assert not [p for p in ws.rglob("*") if "phasegraph-tmp" in p.name]
    assert (ws / "src").is_dir()


def test_atomic_write_never_leaves_a_partial_file(ws: Path) -> None:
    target = ws / "big.bin"
    target.write_bytes(b"a" * 10)
    atomic_write(target, b"b" * 1_000_000)
    assert target.read_bytes() == b"b" * 1_000_000
    assert sorted(p.name for p in ws.iterdir()) == [".git", "big.bin", "src"]


def test_write_confined_replaces_keeps_mode_and_leaves_no_temp_file(ws: Path) -> None:
    target = ws / "src" / "a.py"
    target.chmod(0o750)
    write_confined(ws, resolve_in_workspace(ws, "src/a.py"), b"y = 2\n", rel="src/a.py")
    assert target.read_bytes() == b"y = 2\n"
    assert target.stat().st_mode & 0o7777 == 0o750
    assert sorted(p.name for p in (ws / "src").iterdir()) == ["a.py"]


def test_write_confined_creates_folders_only_when_asked(ws: Path) -> None:
    target = resolve_in_workspace(ws, "new/deep/b.txt")
    with pytest.raises(SkillError, match=r"the folder of 'new/deep/b\.txt' does not exist"):
        write_confined(ws, target, b"b", rel="new/deep/b.txt")
    assert not (ws / "new").exists()
    write_confined(ws, target, b"b", rel="new/deep/b.txt", create_dirs=True, mode=0o640)
    assert (ws / "new" / "deep" / "b.txt").read_bytes() == b"b"
    assert (ws / "new" / "deep" / "b.txt").stat().st_mode & 0o7777 == 0o640


def test_write_confined_refuses_a_folder_and_a_file_in_the_way(ws: Path) -> None:
    before = snapshot(ws)
    with pytest.raises(SkillError, match="'src' is a directory"):
        write_confined(ws, resolve_in_workspace(ws, "src"), b"x", rel="src")
    with pytest.raises(SkillError, match="a file is in the way"):
        write_confined(
            ws, resolve_in_workspace(ws, "src/a.py/x"), b"x", rel="src/a.py/x", create_dirs=True
        )
    assert snapshot(ws) == before


def test_read_confined_reads_at_most_one_byte_past_the_cap(ws: Path) -> None:
    target = resolve_in_workspace(ws, "src/a.py")
    assert read_confined(ws, target, rel="src/a.py", max_bytes=2) == b"x ="
    assert read_confined(ws, target, rel="src/a.py", max_bytes=100) == b"x = 1\n"
    with pytest.raises(FileNotFoundError):
        read_confined(ws, resolve_in_workspace(ws, "nope"), rel="nope", max_bytes=10)


def test_relative_name_does_not_resolve_again(ws: Path) -> None:
    target = resolve_in_workspace(ws, "src/a.py")
    assert relative_name(ws, target) == "src/a.py"
