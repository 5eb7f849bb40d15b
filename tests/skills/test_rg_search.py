"""rg_search runs the real ripgrep and returns workspace-relative, structured matches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.repos import require_program, write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.rg_search import SKILL, RgSearchArgs, rg_search

MakeRepo = Callable[[dict[str, str]], Path]

FILES = {
    "src/app.py": "import os\n\ndef main():\n    return 'needle'\n",
    "src/util.py": "# héllo needle and needle\nX = 1\n",
    "README.md": "no match here\n--verbose turns on needle logging\n",
}


@pytest.fixture(autouse=True)
def _rg() -> None:
    require_program("rg")


def ctx(ws: Path) -> SkillContext:
    return SkillContext(workspace=ws, step_id="s1")


async def search(ws: Path, **args: object) -> dict[str, Any]:
    result = await rg_search(SKILL.parse_args(args), ctx(ws))
    assert result.ok
    return {"summary": result.summary, **result.data}


async def test_matches_carry_relative_paths_lines_and_offsets(make_repo: MakeRepo) -> None:
    repo = make_repo(FILES)
    out = await search(repo, pattern="needle")
    matches = out["matches"]
    assert isinstance(matches, list)
    assert [(m["path"], m["line"]) for m in matches] == [
        ("README.md", 2),
        ("src/app.py", 4),
        ("src/util.py", 1),
    ]
    util = matches[2]
    assert util["text"] == "# héllo needle and needle"
    # Offsets index the Python string, even after a multi-byte character.
    assert [(s["start"], s["end"], s["text"]) for s in util["submatches"]] == [
        (8, 14, "needle"),
        (19, 25, "needle"),
    ]
    for sub in util["submatches"]:
        assert util["text"][sub["start"] : sub["end"]] == "needle"
    assert out["summary"] == "3 matches in 3 files for 'needle'"
    assert out["truncated"] is False


async def test_no_match_is_an_empty_success(make_repo: MakeRepo) -> None:
    repo = make_repo(FILES)
    out = await search(repo, pattern="absent_word_xyz")
    assert out["matches"] == []
    assert out["summary"] == "0 matches in 0 files for 'absent_word_xyz'"


async def test_a_pattern_starting_with_a_dash_is_a_pattern(make_repo: MakeRepo) -> None:
    repo = make_repo(FILES)
    out = await search(repo, pattern="--verbose")
    assert [(m["path"], m["line"]) for m in out["matches"]] == [("README.md", 2)]
    # "-e" or "--files" would change what rg does if they were read as options.
    for flag in ("-e", "--files"):
        assert (await search(repo, pattern=flag, fixed_strings=True))["matches"] == []


async def test_a_bad_regex_names_the_pattern_and_rg_error(make_repo: MakeRepo) -> None:
    repo = make_repo(FILES)
    with pytest.raises(SkillError) as info:
        await search(repo, pattern="foo(")
    message = str(info.value)
    assert "'foo('" in message
    assert "regex parse error" in message
    assert "fixed_strings" in message
    assert info.value.step_id == "s1"
    assert info.value.transient is False


async def test_fixed_strings_match_literally(make_repo: MakeRepo) -> None:
    repo = make_repo({"a.txt": "call f(x)\ncall fx\n"})
    out = await search(repo, pattern="f(x)", fixed_strings=True)
    assert [m["line"] for m in out["matches"]] == [1]


async def test_glob_and_path_narrow_the_search(make_repo: MakeRepo) -> None:
    repo = make_repo(FILES)
    by_glob = await search(repo, pattern="needle", glob="*.py")
    assert {m["path"] for m in by_glob["matches"]} == {"src/app.py", "src/util.py"}
    by_dir = await search(repo, pattern="needle", path="src", glob="!util.py")
    assert [m["path"] for m in by_dir["matches"]] == ["src/app.py"]
    by_file = await search(repo, pattern="needle", path="src/util.py")
    assert [m["path"] for m in by_file["matches"]] == ["src/util.py"]


async def test_never_searches_git_or_phasegraph_dirs(make_repo: MakeRepo) -> None:
    repo = make_repo({"a.txt": "nothing\n"})
    write(repo, ".phasegraph/outputs.json", "secretword\n")
    write(repo, ".git/info/note", "secretword\n")
    for glob in (None, "*", ".git/**", "**/.phasegraph/**"):
        out = await search(repo, pattern="secretword", glob=glob)
        assert out["matches"] == [], glob
    # git itself stores the initial commit message; it must not show up either.
    assert (await search(repo, pattern="initial", glob="*"))["matches"] == []


async def test_does_not_follow_a_symlink_out_of_the_workspace(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.txt", "secretword\n")
    repo = make_repo({"a.txt": "nothing\n"})
    (repo / "link").symlink_to(outside)
    assert (await search(repo, pattern="secretword"))["matches"] == []
    with pytest.raises(WorkspaceViolation, match="outside the workspace"):
        await search(repo, pattern="secretword", path="link")


@pytest.mark.parametrize("path", ["..", "/etc", ".git", "src/../../x", "missing_dir"])
async def test_paths_outside_or_missing_are_refused(make_repo: MakeRepo, path: str) -> None:
    repo = make_repo(FILES)
    with pytest.raises(WorkspaceViolation) as info:
        await search(repo, pattern="root", path=path)
    assert info.value.step_id == "s1"


async def test_max_matches_caps_and_flags_truncation(make_repo: MakeRepo) -> None:
    repo = make_repo({"many.txt": "hit\n" * 50, "more.txt": "hit\n" * 5})
    out = await search(repo, pattern="hit", max_matches=10)
    assert len(out["matches"]) == 10
    assert out["truncated"] is True
    assert str(out["summary"]).endswith("(truncated)")
    exact = await search(repo, pattern="hit", path="more.txt", max_matches=5)
    assert exact["truncated"] is False


def test_args_refuse_an_empty_pattern_and_unknown_fields() -> None:
    with pytest.raises(ValueError, match="pattern"):
        RgSearchArgs.model_validate({"pattern": ""})
    with pytest.raises(ValueError, match="extra"):
        RgSearchArgs.model_validate({"pattern": "x", "shell": True})
    assert SKILL.path_fields() == ["path"]
    assert SKILL.programs == ("rg",)
