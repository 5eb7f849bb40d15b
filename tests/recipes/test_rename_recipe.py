"""The rename recipe: its plan, and edit blocks from real ripgrep findings renaming one symbol."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from testkit import require_program, snapshot, write

from phasegraph import PlanError, default_registry
from phasegraph.graph.plan import Step
from phasegraph.recipes.rename import RENAME
from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.edit_block import find_all

REGISTRY = default_registry()
ARGS = {"old": "load_config", "new": "read_settings"}

# The name is called twice on alike lines, and stands beside names that only contain it.
CONFIG = """\
def load_config(path: str) -> dict[str, str]:
    return {"path": path}


def load_config_or_default() -> dict[str, str]:
    return load_config("default.toml")


def first() -> dict[str, str]:
    return load_config("a.toml")


def second() -> dict[str, str]:
    return load_config("a.toml")
"""

CLI = """\
from config import load_config

# load_config reads the file; reload_config and load_configs are other names.
settings = load_config("app.toml")
"""

NOTES = "load_config is documented here, but only *.py files are renamed.\n"


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("rg")


def workspace(root: Path) -> Path:
    write(root, "config.py", CONFIG)
    write(root, "app/cli.py", CLI)
    write(root, "NOTES.md", NOTES)
    write(root, "other.py", "def unrelated() -> int:\n    return 1\n")
    return root


async def run_reads(root: Path, args: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Run the recipe's read steps for real; their outputs as the consolidate node gets them."""
    outputs: dict[str, dict[str, Any]] = {}
    for step in RENAME.steps(args):
        skill = REGISTRY.get(step.skill)
        assert skill is not None, step.skill
        if skill.kind is not SkillKind.READ:
            continue
        result = await skill.run(
            skill.parse_args(step.args), SkillContext(workspace=root, step_id=step.id)
        )
        outputs[step.id] = {
            "summary": result.summary,
            "data": result.data,
            "findings": result.findings,
        }
    return outputs


async def consolidated(root: Path, args: Mapping[str, Any] = ARGS) -> list[Step]:
    return RENAME.consolidate(args, await run_reads(root, args), root)


async def apply(root: Path, edits: list[Step]) -> None:
    """Run the edit steps in order with edit_block, as the write phase does; each search must
    occur exactly once in its file as it stands when its edit runs."""
    skill = REGISTRY.get("edit_block")
    assert skill is not None
    for step in edits:
        text = (root / step.args["path"]).read_text(encoding="utf-8")
        found = len(find_all(text, step.args["search"]))
        assert found == 1, f"{step.id}: {step.args['search']!r} occurs {found} times"
        await skill.run(skill.parse_args(step.args), SkillContext(workspace=root, step_id=step.id))


def test_the_plan_searches_then_verifies_then_commits() -> None:
    steps = RENAME.steps(ARGS)
    assert [(s.id, s.skill) for s in steps] == [
        ("find-usages", "rg_search"),
        ("ruff", "run_ruff"),
        ("mypy", "run_mypy"),
        ("pytest", "run_pytest"),
        ("commit", "git_checkpoint"),
    ]
    assert steps[0].args == {"pattern": r"\bload_config\b", "path": ".", "glob": "*.py"}
    assert steps[-1].args == {"message": "Rename load_config to read_settings"}
    assert steps[-1].after == ["ruff", "mypy", "pytest"]


def test_the_plan_outlines_the_defining_file_and_can_skip_checks_and_commit() -> None:
    steps = RENAME.steps(
        {**ARGS, "path": "app", "defined_in": "config.py", "verify": ["run_ruff"], "commit": False}
    )
    assert [(s.id, s.skill, s.args) for s in steps] == [
        (
            "find-usages",
            "rg_search",
            {"pattern": r"\bload_config\b", "path": "app", "glob": "*.py"},
        ),
        ("outline", "get_file_outline", {"path": "config.py"}),
        ("ruff", "run_ruff", {}),
    ]


@pytest.mark.parametrize(
    "names", [{"old": "a.b", "new": "x"}, {"old": "x", "new": "1x"}, {"old": "x|y", "new": "z"}]
)
def test_only_identifiers_are_renamed(names: dict[str, str]) -> None:
    # The names go into regular expressions: anything but an identifier is refused first.
    with pytest.raises(ValidationError):
        RENAME.steps(names)


async def test_every_search_occurs_exactly_once_when_its_edit_runs(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    edits = await consolidated(root)
    assert {s.skill for s in edits} == {"edit_block"}
    assert sorted({s.args["path"] for s in edits}) == ["app/cli.py", "config.py"]
    assert len({s.id for s in edits}) == len(edits)
    await apply(root, edits)


async def test_a_name_on_two_alike_lines_gets_the_context_that_tells_them_apart(
    tmp_path: Path,
) -> None:
    root = workspace(tmp_path)
    edits = await consolidated(root)
    call = '    return load_config("a.toml")\n'
    assert CONFIG.count(call) == 2
    blocks = [s.args["search"] for s in edits if call in s.args["search"]]
    assert len(blocks) == 2
    first, second = blocks
    # The first copy needs its def line to be told apart; the second is alone by then,
    # since the first one is already renamed when its edit runs.
    assert "def first()" in first and first.count("\n") > 1
    assert CONFIG.count(first) == 1
    assert second == call


async def test_the_edits_rename_the_whole_word_and_nothing_else(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    before = snapshot(root)
    edits = await consolidated(root)
    word = re.compile(r"\bload_config\b")
    for step in edits:
        assert step.args["replace"] == word.sub("read_settings", step.args["search"])
    await apply(root, edits)

    after = snapshot(root)
    assert after["config.py"].decode() == CONFIG.replace(
        "def load_config(", "def read_settings("
    ).replace('return load_config("', 'return read_settings("')
    assert "def load_config_or_default()" in after["config.py"].decode()
    assert after["app/cli.py"].decode() == (
        "from config import read_settings\n"
        "\n"
        "# read_settings reads the file; reload_config and load_configs are other names.\n"
        'settings = read_settings("app.toml")\n'
    )
    # Files without the name, and files that are not Python, keep their bytes.
    assert {k: v for k, v in after.items() if k not in ("config.py", "app/cli.py")} == {
        k: v for k, v in before.items() if k not in ("config.py", "app/cli.py")
    }


async def test_the_path_limits_the_rename(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    edits = await consolidated(root, {**ARGS, "path": "app"})
    assert {s.args["path"] for s in edits} == {"app/cli.py"}
    assert [s.id for s in edits] == [f"edit-app-cli-py-{n}" for n in range(1, len(edits) + 1)]


async def test_a_name_nobody_uses_is_a_plan_error(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    args = {"old": "no_such_name", "new": "other"}
    with pytest.raises(PlanError, match="step 'find-usages': no usage of 'no_such_name'"):
        await consolidated(root, args)


async def test_defined_in_must_define_the_symbol(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    assert await consolidated(root, {**ARGS, "defined_in": "config.py"})
    with pytest.raises(
        PlanError, match=re.escape("step 'outline': app/cli.py defines no 'load_config'")
    ):
        await consolidated(root, {**ARGS, "defined_in": "app/cli.py"})


async def test_three_alike_lines_in_a_row_are_each_renamed(tmp_path: Path) -> None:
    write(tmp_path, "calls.py", "load_config()\nload_config()\nload_config()\n")
    edits = await consolidated(tmp_path)
    await apply(tmp_path, edits)
    assert (tmp_path / "calls.py").read_text() == "read_settings()\n" * 3
