"""Hostile paths and files: nothing outside the workspace (or in .git/.phasegraph) is touched.

Each case names the threat it covers, asserts the clear error a user sees, and
asserts that the workspace and the folder beside it are byte for byte unchanged.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable
from typing import Any, Protocol

import pytest
from pydantic import ValidationError
from support.repos import run_collecting
from support.sandbox import LIB, SECRET, Sandbox

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.edit_block.skill import SKILL as EDIT_BLOCK
from phasegraph.skills.get_file_outline import SKILL as GET_FILE_OUTLINE
from phasegraph.skills.guards.confined_io import open_confined, read_confined, write_confined
from phasegraph.skills.guards.workspace import resolve_in_workspace
from phasegraph.skills.read_file import SKILL as READ_FILE
from phasegraph.skills.rg_search import SKILL as RG_SEARCH
from phasegraph.skills.write_file import SKILL as WRITE_FILE


async def edit(box: Sandbox, path: str, **ctx: Any) -> Any:
    args = EDIT_BLOCK.parse_args({"path": path, "search": "X", "replace": "PWNED"})
    return await EDIT_BLOCK.run(args, SkillContext(workspace=box.ws, step_id="s1", **ctx))


async def overwrite(box: Sandbox, path: str, **ctx: Any) -> Any:
    args = WRITE_FILE.parse_args({"path": path, "content": "PWNED\n"})
    return await WRITE_FILE.run(args, SkillContext(workspace=box.ws, step_id="s1", **ctx))


async def read(box: Sandbox, path: str, **ctx: Any) -> Any:
    args = READ_FILE.parse_args({"path": path})
    return await READ_FILE.run(args, SkillContext(workspace=box.ws, step_id="s1", **ctx))


async def outline(box: Sandbox, path: str) -> Any:
    args = GET_FILE_OUTLINE.parse_args({"path": path})
    return await GET_FILE_OUTLINE.run(args, SkillContext(workspace=box.ws, step_id="s1"))


class SkillCall(Protocol):
    """Run one skill on ``path`` in the sandbox; ``ctx`` goes to its SkillContext."""

    def __call__(self, box: Sandbox, path: str, **ctx: Any) -> Awaitable[Any]: ...


SKILLS: dict[str, SkillCall] = {"edit_block": edit, "write_file": overwrite, "read_file": read}

# (path a plan names, words the refusal must contain)
ESCAPES = {
    "dotdot": ("../outside/secret.txt", "climbs out of the workspace"),
    "dotdot_after_a_folder": ("pkg/../../outside/secret.txt", "climbs out of the workspace"),
    "dotdot_with_backslashes": ("..\\outside\\secret.txt", "climbs out of the workspace"),
    "absolute_path": ("/etc/passwd", "is absolute"),
    "absolute_path_to_outside": ("{outside}/secret.txt", "is absolute"),
    "windows_drive": ("C:/Windows/win.ini", "is absolute"),
    "symlink_to_a_file_outside": ("escape_file", "outside the workspace"),
    "absolute_symlink_to_a_file_outside": ("abs_link", "outside the workspace"),
    "symlinked_parent_folder_pointing_out": ("escape_dir/secret.txt", "outside the workspace"),
    "new_file_under_a_symlinked_folder": ("escape_dir/new.txt", "outside the workspace"),
    "symlink_climbing_two_levels": ("pkg/up/outside/secret.txt", "outside the workspace"),
    "nul_byte": ("lib.py\x00.txt", "NUL byte"),
}
PROTECTED = {
    "git_config": (".git/config", ".git/"),
    "git_hook": (".git/hooks/pre-commit", ".git/"),
    "git_by_another_case": (".GIT/config", ".git/"),
    "git_through_dotdot": ("pkg/../.git/HEAD", ".git/"),
    "git_through_a_symlink": ("gitlink/config", ".git/"),
    "nested_git_folder": ("vendor/.git/config", ".git/"),
    "phasegraph_run_folder": (".phasegraph/runs.db", ".phasegraph/"),
}


@pytest.mark.parametrize("skill", sorted(SKILLS))
@pytest.mark.parametrize("threat", sorted(ESCAPES))
async def test_paths_escaping_the_workspace_are_refused_before_any_write(
    sandbox: Sandbox, skill: str, threat: str
) -> None:
    path, why = ESCAPES[threat]
    with pytest.raises(WorkspaceViolation, match=why) as info:
        await SKILLS[skill](sandbox, path.format(outside=sandbox.outside))
    assert info.value.step_id == "s1"
    assert SECRET not in str(info.value)
    sandbox.assert_unchanged()


@pytest.mark.parametrize("skill", sorted(SKILLS))
@pytest.mark.parametrize("threat", sorted(PROTECTED))
async def test_git_internals_and_the_run_folder_are_refused(
    sandbox: Sandbox, skill: str, threat: str
) -> None:
    path, why = PROTECTED[threat]
    with pytest.raises(WorkspaceViolation, match=why):
        await SKILLS[skill](sandbox, path)
    sandbox.assert_unchanged()


async def test_a_symlink_out_cannot_be_outlined_or_searched(sandbox: Sandbox) -> None:
    with pytest.raises(WorkspaceViolation, match="outside the workspace"):
        await outline(sandbox, "escape_dir/leak.py")
    # ripgrep does not follow symlinks inside the tree: the secret beside it stays unread.
    args = RG_SEARCH.parse_args({"pattern": "do not leak", "path": "."})
    result = await RG_SEARCH.run(args, SkillContext(workspace=sandbox.ws, step_id="s1"))
    assert result.data["matches"] == []
    with pytest.raises(WorkspaceViolation, match="outside the workspace"):
        await RG_SEARCH.run(
            RG_SEARCH.parse_args({"pattern": "leak", "path": "escape_dir"}),
            SkillContext(workspace=sandbox.ws, step_id="s1"),
        )
    sandbox.assert_unchanged()


def test_a_parent_folder_swapped_for_a_symlink_after_the_check_is_refused(
    sandbox: Sandbox,
) -> None:
    ws = sandbox.ws
    target = resolve_in_workspace(ws, "pkg/mod.py")  # the check passes: pkg is a real folder
    (ws / "pkg").rename(ws / "pkg_real")
    (ws / "pkg").symlink_to(sandbox.outside)  # swapped in between the check and the write
    (sandbox.outside / "mod.py").write_text("outside\n")
    sandbox.freeze()
    with pytest.raises(WorkspaceViolation, match=r"'pkg' on the way to 'pkg/mod\.py' is a symlink"):
        write_confined(ws, target, b"PWNED", rel="pkg/mod.py")
    with pytest.raises(WorkspaceViolation, match="is a symlink"):
        read_confined(ws, target, rel="pkg/mod.py", max_bytes=100)
    sandbox.assert_unchanged()


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_followed(sandbox: Sandbox) -> None:
    ws = sandbox.ws
    target = resolve_in_workspace(ws, "lib.py")
    (ws / "lib.py").unlink()
    (ws / "lib.py").symlink_to(sandbox.outside / "secret.txt")
    sandbox.freeze()
    with pytest.raises(WorkspaceViolation, match="became a symlink after the path was checked"):
        write_confined(ws, target, b"PWNED", rel="lib.py")
    with pytest.raises(WorkspaceViolation, match="became a symlink"):
        os.close(open_confined(ws, target, rel="lib.py"))
    sandbox.assert_unchanged()


def test_racing_symlink_swaps_never_let_a_write_out(sandbox: Sandbox) -> None:
    """A real race: one thread keeps swapping pkg/ for a link out while edits run."""
    ws = sandbox.ws
    (sandbox.outside / "mod.py").write_text("X = 1\n")  # what an escaped edit would hit
    (ws / "pkg_out").symlink_to(sandbox.outside)
    stop = threading.Event()

    def swapper() -> None:
        pkg, real, out = ws / "pkg", ws / "pkg_real", ws / "pkg_out"
        for _ in range(20_000):
            if stop.is_set():
                return
            pkg.rename(real)  # pkg/ is a link out for a moment, then a real folder again
            out.rename(pkg)
            pkg.rename(out)
            real.rename(pkg)
            time.sleep(0.0002)  # let some edits through whole, so writes really race

    outcomes = {"ok": 0, "refused": 0}

    async def edits() -> None:
        for n in range(150):
            search, replace = ("X =", "X  =") if n % 2 == 0 else ("X  =", "X =")
            args = EDIT_BLOCK.parse_args(
                {"path": "pkg/mod.py", "search": search, "replace": replace}
            )
            try:
                await EDIT_BLOCK.run(args, SkillContext(workspace=ws, step_id="s1"))
                outcomes["ok"] += 1
            except SkillError:  # refused with a clear error; anything else fails the test
                outcomes["refused"] += 1

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    try:
        asyncio.run(edits())
    finally:
        stop.set()
        thread.join()
    assert outcomes["ok"] + outcomes["refused"] == 150
    assert (sandbox.outside / "mod.py").read_text() == "X = 1\n"
    assert (sandbox.outside / "secret.txt").read_text() == SECRET
    assert sorted(p.name for p in sandbox.outside.iterdir()) == ["mod.py", "private", "secret.txt"]


async def test_a_hardlink_to_an_outside_file_is_replaced_not_written_through(
    sandbox: Sandbox,
) -> None:
    os.link(sandbox.outside / "secret.txt", sandbox.ws / "hard.txt")
    sandbox.freeze()
    args = EDIT_BLOCK.parse_args({"path": "hard.txt", "search": "leak", "replace": "keep"})
    await EDIT_BLOCK.run(args, SkillContext(workspace=sandbox.ws, step_id="s1"))
    assert (sandbox.ws / "hard.txt").read_text() == SECRET.replace("leak", "keep")
    sandbox.assert_outside_unchanged()
    assert (sandbox.outside / "secret.txt").read_text() == SECRET


@pytest.mark.parametrize("skill", ["edit_block", "write_file"])
async def test_binary_files_are_refused_for_edits(sandbox: Sandbox, skill: str) -> None:
    (sandbox.ws / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00X\x00")
    sandbox.freeze()
    with pytest.raises(SkillError, match=r"'logo\.png' is binary \(it contains NUL bytes\)"):
        await SKILLS[skill](sandbox, "logo.png")
    sandbox.assert_unchanged()


@pytest.mark.parametrize("skill", ["edit_block", "write_file"])
async def test_files_over_the_size_cap_are_refused_for_edits(sandbox: Sandbox, skill: str) -> None:
    (sandbox.ws / "big.py").write_text("X = 1\n" * 400)
    sandbox.freeze()
    with pytest.raises(SkillError, match=r"'big\.py' is 2400 bytes, over the 1000-byte cap"):
        await SKILLS[skill](sandbox, "big.py", edit_max_bytes=1000)
    sandbox.assert_unchanged()


async def test_content_over_the_size_cap_is_refused(sandbox: Sandbox) -> None:
    args = WRITE_FILE.parse_args({"path": "new.txt", "content": "a" * 2000})
    with pytest.raises(SkillError, match="2000 bytes, over the 1000-byte cap"):
        await WRITE_FILE.run(args, SkillContext(workspace=sandbox.ws, edit_max_bytes=1000))
    sandbox.assert_unchanged()


@pytest.mark.parametrize("skill", ["edit_block", "write_file"])
async def test_non_utf8_text_is_refused_not_mangled(sandbox: Sandbox, skill: str) -> None:
    (sandbox.ws / "latin.txt").write_bytes("X = 'café'\n".encode("latin-1"))
    sandbox.freeze()
    with pytest.raises(SkillError, match=r"'latin\.txt' is not valid UTF-8 \(bad byte at offset"):
        await SKILLS[skill](sandbox, "latin.txt")
    sandbox.assert_unchanged()


@pytest.mark.parametrize("skill", sorted(SKILLS))
async def test_a_fifo_is_refused_without_hanging(sandbox: Sandbox, skill: str) -> None:
    os.mkfifo(sandbox.ws / "pipe")
    sandbox.freeze()
    with pytest.raises(SkillError, match="not a regular file"):
        await asyncio.wait_for(SKILLS[skill](sandbox, "pipe"), 30)
    sandbox.assert_unchanged()


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("replace", "a\x00b", "NUL byte"),
        ("replace", "\ud800", "no UTF-8 form|unicode string"),
        ("search", "\udcff", "no UTF-8 form|unicode string"),
    ],
)
def test_text_that_would_corrupt_a_file_is_refused_at_validation(
    field: str, value: str, why: str
) -> None:
    raw = {"path": "lib.py", "search": "hello", "replace": "hi", field: value}
    with pytest.raises(ValidationError, match=why):
        EDIT_BLOCK.parse_args(raw)
    with pytest.raises(ValidationError, match=why):
        WRITE_FILE.parse_args({"path": "lib.py", "content": value})


@pytest.mark.parametrize("threat", ["dotdot", "symlinked_parent_folder_pointing_out"])
async def test_a_hostile_plan_is_refused_before_any_step_runs(
    sandbox: Sandbox, threat: str
) -> None:
    path, why = ESCAPES[threat]
    plan = {
        "goal": "hostile",
        "steps": [
            {"id": "look", "skill": "read_file", "args": {"path": "lib.py"}},
            {
                "id": "fine",
                "skill": "edit_block",
                "args": {"path": "lib.py", "search": "hello", "replace": "hi"},
            },
            {"id": "evil", "skill": "write_file", "args": {"path": path, "content": "PWNED"}},
        ],
    }
    report, events = await run_collecting(plan, sandbox.ws)
    assert report.status == "stopped"
    assert report.failure_kind == "input"
    assert report.error is not None
    assert "'evil'" in report.error
    assert why in report.error
    assert not [e for e in events if e.get("status") in ("running", "done")]
    assert (sandbox.ws / "lib.py").read_text() == LIB
    sandbox.assert_unchanged()
