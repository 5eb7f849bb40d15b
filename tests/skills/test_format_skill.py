"""format: real ruff formats the files a run wrote, by the project's settings, as every write
does (journalled, undone, refused on the user's work), and only where the project formats
with ruff."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, init_repo, require_program, run_collecting, snapshot, write

from phasegraph import build_orchestrator
from phasegraph.graph.durable.undo import undo_run
from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.format_code import SKILL, FormatArgs, with_earlier_files

#: A project that lints with ruff, long lines included, and formats at 60 columns.
PYPROJECT = '[tool.ruff]\nline-length = 60\n\n[tool.ruff.lint]\nextend-select = ["E501"]\n'
BASE = "def total(a: int, b: int) -> int:\n    return a + b\n"
#: What a hand-written plan writes: one line far over the project's length.
LONG = (
    "def total(a: int, b: int) -> int:\n    return a + b\n\n\n"
    'LIMITS = {"first_limit": 1000, "second_limit": 2000, "third_limit": 3000}\n'
)
#: The same module as ruff format leaves it at 60 columns.
FORMATTED = (
    "def total(a: int, b: int) -> int:\n    return a + b\n\n\n"
    "LIMITS = {\n"
    '    "first_limit": 1000,\n'
    '    "second_limit": 2000,\n'
    '    "third_limit": 3000,\n'
    "}\n"
)
#: What undo needs of a run's final state.
KEYS = ("workspace", "head", "written", "created", "written_sha", "run_id", "commit_sha")


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "ruff"):
        require_program(name)


def ruff_formatted(root: Path, rel: str) -> bytes:
    """What the ruff on PATH makes of ``rel`` by the project's settings: the oracle."""
    ruff = require_program("ruff")
    out = subprocess.run(
        [ruff, "format", "--no-cache", "--stdin-filename", rel, "-"],
        cwd=root,
        input=(root / rel).read_bytes(),
        capture_output=True,
        check=True,
    )
    return out.stdout


async def fmt(root: Path, *files: str) -> Any:
    return await SKILL.run(FormatArgs(files=list(files)), SkillContext(workspace=root))


def test_it_is_a_write_skill_named_format_on_its_files() -> None:
    assert (SKILL.name, SKILL.kind, SKILL.programs) == ("format", SkillKind.WRITE, ("ruff",))
    assert SKILL.path_fields() == ["files"]


def test_a_format_step_naming_no_files_takes_the_python_files_written_before_it() -> None:
    step = {"id": "fmt", "skill": "format", "args": {}}
    earlier = ["pkg/a.py", "README.md", "pkg/a.py", "stubs/b.pyi"]
    assert with_earlier_files(step, earlier)["args"]["files"] == ["pkg/a.py", "stubs/b.pyi"]
    named = {"id": "fmt", "skill": "format", "args": {"files": ["c.py"]}}
    assert with_earlier_files(named, earlier) == named
    other = {"id": "w", "skill": "write_file", "args": {"path": "x.py", "content": ""}}
    assert with_earlier_files(other, earlier) == other


async def test_it_formats_by_the_projects_settings_and_writes_only_what_changes(
    tmp_path: Path,
) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "mod.py", LONG)
    write(tmp_path, "done.py", BASE)
    write(tmp_path, "notes.md", 'x = {"a":1}\n')  # ruff would format it as Python
    write(tmp_path, "other.py", LONG)  # not named: not touched
    before = snapshot(tmp_path)

    result = await fmt(tmp_path, "mod.py", "done.py", "notes.md")

    assert result.files_written == ["mod.py"]
    assert (tmp_path / "mod.py").read_text() == FORMATTED
    assert (tmp_path / "mod.py").read_bytes() == ruff_formatted(tmp_path, "mod.py")
    digest = hashlib.sha256(FORMATTED.encode()).hexdigest()
    assert result.data["sha256s"] == {"mod.py": digest}
    assert result.summary.startswith("format: formatted 1 file with ruff format: mod.py")
    assert "pyproject.toml configures ruff" in result.summary
    assert "not Python, left alone: notes.md" in result.summary
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "mod.py"} == {
        k: v for k, v in before.items() if k != "mod.py"
    }


async def test_ruffs_own_excludes_hold(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT + '\n[tool.ruff.format]\nexclude = ["gen/*"]\n')
    write(tmp_path, "gen/out.py", LONG)

    result = await fmt(tmp_path, "gen/out.py")

    assert result.files_written == []
    assert (tmp_path / "gen/out.py").read_text() == LONG
    assert "[tool.ruff.format]" in result.summary


@pytest.mark.parametrize(
    ("files", "why"),
    [
        (
            {"pyproject.toml": "[tool.black]\nline-length = 60\n"},
            "the project formats with black ([tool.black] in pyproject.toml)",
        ),
        (
            {
                "pyproject.toml": PYPROJECT,
                ".pre-commit-config.yaml": (
                    "repos:\n- repo: https://github.com/astral-sh/ruff-pre-commit\n"
                    "  rev: v0.6.0\n  hooks:\n  - id: ruff\n    args: [--fix]\n"
                    "- repo: https://github.com/psf/black\n  rev: 24.1.0\n  hooks:\n"
                    "  - id: black\n"
                ),
            },
            "the project formats with black (.pre-commit-config.yaml hook black)",
        ),
        (
            {
                "pyproject.toml": PYPROJECT,
                ".pre-commit-config.yaml": (
                    "repos:\n- repo: https://github.com/astral-sh/ruff-pre-commit\n"
                    "  rev: v0.6.0\n  hooks:\n  - id: ruff\n"
                ),
            },
            ".pre-commit-config.yaml runs ruff check but not ruff format",
        ),
        ({}, "no sign the project uses ruff format"),
    ],
)
async def test_skipped_with_the_reason_where_the_project_does_not_format_with_ruff(
    tmp_path: Path, files: dict[str, str], why: str
) -> None:
    for rel, text in files.items():
        write(tmp_path, rel, text)
    write(tmp_path, "mod.py", LONG)
    before = snapshot(tmp_path)

    result = await fmt(tmp_path, "mod.py")

    assert result.ok and result.files_written == []
    assert result.summary.startswith(f"format: skipped, {why}")
    assert snapshot(tmp_path) == before


async def test_a_ruff_format_hook_wins_over_a_black_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.black]\n\n" + PYPROJECT)
    hook = "  - id: ruff-format\n"
    write(
        tmp_path,
        ".pre-commit-config.yaml",
        "repos:\n- repo: https://github.com/astral-sh/ruff-pre-commit\n  rev: v0.6.0\n"
        f"  hooks:\n{hook}",
    )
    write(tmp_path, "mod.py", LONG)

    result = await fmt(tmp_path, "mod.py")

    assert result.files_written == ["mod.py"]
    assert "runs ruff format (hook ruff-format)" in result.summary


def plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"goal": "Add the limits", "steps": list(steps)}


WRITE_LONG = {"id": "write", "skill": "write_file", "args": {"path": "mod.py", "content": LONG}}
NOTES = {"id": "notes", "skill": "write_file", "args": {"path": "NOTES.md", "content": "x=1\n"}}
FORMAT = {"id": "format", "skill": "format", "args": {}}
RUFF = {"id": "ruff", "skill": "run_ruff", "args": {}}
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Add the limits"}}


def project(root: Path) -> Path:
    return init_repo(root / "repo", {"pyproject.toml": PYPROJECT, "mod.py": BASE})


async def test_without_format_the_long_line_blocks_the_run(tmp_path: Path) -> None:
    # The case the skill is for: a hand-written plan's write fails the project's lint.
    repo = project(tmp_path)
    report, _ = await run_collecting(plan(WRITE_LONG, RUFF, COMMIT), repo)
    assert report.status == "stopped"
    assert any("E501" in f.finding for f in report.new_findings.get("ruff", []))
    assert git(repo, "log", "--format=%s").splitlines() == ["initial"]


async def test_a_plan_formats_what_it_wrote_and_commits_formatted_code_that_undo_restores(
    tmp_path: Path,
) -> None:
    repo = project(tmp_path)
    write(repo, "mine.py", "X  =  1\n")  # the user's own uncommitted file: never formatted
    before = snapshot(repo)

    final = await build_orchestrator().ainvoke(
        {
            "plan": plan(WRITE_LONG, NOTES, FORMAT, RUFF, COMMIT),
            "workspace": str(repo),
        }
    )

    report = final["report"]
    assert report["status"] == "completed", report
    rows = {row["id"]: row for row in report["steps"]}
    assert rows["format"]["summary"].startswith("format: formatted 1 file with ruff format: mod.py")
    assert rows["ruff"]["summary"] == "ruff: no problems"
    # The commit holds the formatted module, exactly what ruff makes of it, and the notes
    # as written (not Python: not formatted).
    assert git(repo, "show", "HEAD:mod.py") == FORMATTED
    assert git(repo, "show", "HEAD:NOTES.md") == "x=1\n"
    assert (repo / "mod.py").read_bytes() == ruff_formatted(repo, "mod.py")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["NOTES.md", "mod.py"]
    assert (repo / "mine.py").read_text() == "X  =  1\n"

    undone = await undo_run({k: final.get(k) for k in KEYS})
    assert sorted(undone.restored + undone.removed) == ["NOTES.md", "mod.py"]
    assert snapshot(repo) == before


async def test_format_on_a_file_holding_the_users_work_is_refused_before_any_write(
    tmp_path: Path,
) -> None:
    repo = project(tmp_path)
    write(repo, "mod.py", BASE + "\n\nMINE = {'uncommitted':    1}\n")
    before = snapshot(repo)
    fmt_mod = {"id": "format", "skill": "format", "args": {"files": ["mod.py"]}}
    other = {"id": "other", "skill": "write_file", "args": {"path": "b.py", "content": "B = 1\n"}}

    report, _ = await run_collecting(plan(other, fmt_mod, COMMIT), repo)

    assert report.status == "stopped"
    assert "mod.py has uncommitted changes of yours" in (report.error or "")
    assert snapshot(repo) == before


async def test_a_later_edit_of_a_formatted_file_is_not_judged_on_its_unformatted_text(
    tmp_path: Path,
) -> None:
    # The dry run cannot know what ruff writes: it does not refuse an edit of the formatted
    # text, and the run shows the edit applying to what format left.
    repo = project(tmp_path)
    edit = {
        "id": "edit",
        "skill": "edit_block",
        "args": {"path": "mod.py", "search": '    "third_limit": 3000,\n', "replace": ""},
    }
    report, _ = await run_collecting(plan(WRITE_LONG, FORMAT, edit, RUFF, COMMIT), repo)
    assert report.status == "completed", report.error
    assert git(repo, "show", "HEAD:mod.py") == FORMATTED.replace('    "third_limit": 3000,\n', "")
