"""get_file_outline lists a Python file's classes, functions and methods with line ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.repos import write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.get_file_outline import SKILL, get_file_outline

SOURCE = '''\
"""A module."""
import functools


@functools.cache
def helper(x):
    return x


class Service:
    """Does things."""

    def __init__(self):
        self.n = 0

    @property
    def size(self):
        return self.n

    async def fetch(self):
        def inner():
            return 1
        return inner()

    class Config:
        debug = False


if True:
    def fallback():
        pass
'''


def ctx(ws: Path) -> SkillContext:
    return SkillContext(workspace=ws, step_id="s1")


async def outline(ws: Path, path: str) -> dict[str, Any]:
    result = await get_file_outline(SKILL.parse_args({"path": path}), ctx(ws))
    return {"summary": result.summary, **result.data}


async def test_outline_lists_every_definition_with_lines(tmp_path: Path) -> None:
    write(tmp_path, "pkg/service.py", SOURCE)
    out = await outline(tmp_path, "pkg/service.py")
    got = [(s["kind"], s["qualname"], s["start_line"], s["end_line"]) for s in out["symbols"]]
    assert got == [
        ("function", "helper", 5, 7),  # the decorator line starts the definition
        ("class", "Service", 10, 26),
        ("method", "Service.__init__", 13, 14),
        ("method", "Service.size", 16, 18),
        ("method", "Service.fetch", 20, 23),
        ("function", "Service.fetch.<locals>.inner", 21, 22),
        ("class", "Service.Config", 25, 26),
        ("function", "fallback", 30, 31),
    ]
    by_name = {s["qualname"]: s for s in out["symbols"]}
    assert by_name["Service.size"]["name"] == "size"
    assert by_name["Service.size"]["decorators"] == ["property"]
    assert by_name["helper"]["decorators"] == ["functools.cache"]
    assert by_name["Service.fetch"]["async"] is True
    assert out["path"] == "pkg/service.py"
    assert out["syntax_errors"] is False
    assert out["summary"] == "outline of pkg/service.py: 2 classes, 3 functions, 3 methods"


async def test_lines_match_the_file(tmp_path: Path) -> None:
    write(tmp_path, "m.py", SOURCE)
    lines = SOURCE.splitlines()
    for sym in (await outline(tmp_path, "m.py"))["symbols"]:
        first = lines[sym["start_line"] - 1].strip()
        assert first.startswith(("@", "def ", "async def ", "class ")), sym
        assert sym["name"] in "\n".join(lines[sym["start_line"] - 1 : sym["end_line"]])


async def test_a_file_with_syntax_errors_is_outlined_best_effort(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "def ok():\n    pass\n\ndef broken(:\n")
    out = await outline(tmp_path, "broken.py")
    assert out["syntax_errors"] is True
    assert "syntax errors" in out["summary"]
    assert out["symbols"][0]["qualname"] == "ok"


async def test_an_empty_file_has_no_symbols(tmp_path: Path) -> None:
    write(tmp_path, "empty.py", "")
    out = await outline(tmp_path, "empty.py")
    assert out["symbols"] == []


async def test_stub_files_are_python_too(tmp_path: Path) -> None:
    write(tmp_path, "m.pyi", "def f(x: int) -> int: ...\n")
    assert [s["name"] for s in (await outline(tmp_path, "m.pyi"))["symbols"]] == ["f"]


async def test_other_languages_are_refused_clearly(tmp_path: Path) -> None:
    write(tmp_path, "app.js", "function f() {}\n")
    with pytest.raises(SkillError, match=r"only Python files .*'app\.js'") as info:
        await outline(tmp_path, "app.js")
    assert info.value.step_id == "s1"


async def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match=r"'nope\.py' does not exist"):
        await outline(tmp_path, "nope.py")


async def test_paths_outside_the_workspace_are_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(tmp_path, "outside.py", "def secret(): pass\n")
    ws.mkdir()
    (ws / "link.py").symlink_to(tmp_path / "outside.py")
    for path in ("../outside.py", str(tmp_path / "outside.py"), "link.py", ".git/x.py"):
        with pytest.raises(WorkspaceViolation):
            await outline(ws, path)
