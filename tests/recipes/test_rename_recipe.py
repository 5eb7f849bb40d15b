"""The rename recipe: its plan, and edit blocks from real ripgrep findings renaming one symbol."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from support.repos import git, require_program, run_collecting, snapshot, write

from phasegraph import PlanError, default_registry
from phasegraph.graph.model.plan import Step
from phasegraph.recipes.rename import MAX_MATCHES as MAX
from phasegraph.recipes.rename import RENAME
from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.edit_block.ladder import find_all

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

NOTES = "load_config is documented here; prose is never renamed.\n"


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
    # Every file is searched: the matches the rename leaves are listed, docs included.
    assert steps[0].args == {"pattern": r"\bload_config\b", "path": ".", "max_matches": MAX}
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
            {"pattern": r"\bload_config\b", "path": "app", "max_matches": MAX},
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
        # Names, not comments: the comment line of app/cli.py is never in an edit.
        assert step.args["replace"] == word.sub("read_settings", step.args["search"])
        assert "# load_config" not in step.args["search"]
    await apply(root, edits)

    after = snapshot(root)
    assert after["config.py"].decode() == CONFIG.replace(
        "def load_config(", "def read_settings("
    ).replace('return load_config("', 'return read_settings("')
    assert "def load_config_or_default()" in after["config.py"].decode()
    assert after["app/cli.py"].decode() == (
        "from config import read_settings\n"
        "\n"
        "# load_config reads the file; reload_config and load_configs are other names.\n"
        'settings = read_settings("app.toml")\n'
    )
    # Files without the name, and files that are not Python, keep their bytes.
    assert {k: v for k, v in after.items() if k not in ("config.py", "app/cli.py")} == {
        k: v for k, v in before.items() if k not in ("config.py", "app/cli.py")
    }


async def test_the_path_limits_the_rename(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    edits = await consolidated(root, {**ARGS, "path": "app", "defined_in": "config.py"})
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
    write(tmp_path, "calls.py", "from config import load_config\n\n" + "load_config()\n" * 3)
    write(tmp_path, "config.py", CONFIG)
    edits = await consolidated(tmp_path)
    await apply(tmp_path, edits)
    assert (tmp_path / "calls.py").read_text() == (
        "from config import read_settings\n\n" + "read_settings()\n" * 3
    )


# A project where the name is also the standard library's: `pkg.text.unescape` is the symbol,
# `html.unescape` is not. It has `__all__` lists, a module alias, a re-export, a local of the
# same name, a docstring with a doctest and a reST page.
PROJECT = {
    "pyproject.toml": '[tool.ruff.lint]\nselect = ["E", "F", "I"]\n',
    "pkg/__init__.py": (
        '"""The package."""\n\nfrom pkg.text import quote, unescape\n\n'
        '__all__ = ["quote", "unescape"]\n'
    ),
    "pkg/text.py": (
        '"""Text helpers.\n\n>>> unescape("&amp;")\n\'&\'\n"""\n\n'
        "from html import unescape as _std_unescape\n\n"
        '__all__ = ["quote", "unescape"]\n\n\n'
        "def quote(s: str) -> str:\n"
        "    return f'\"{s}\"'\n\n\n"
        "def unescape(s: str) -> str:\n"
        '    """Undo HTML escapes: ``unescape("&lt;")`` is ``"<"``."""\n'
        "    return _std_unescape(s)\n"
    ),
    "pkg/web.py": (
        "from html import unescape\n\n"
        "import pkg.text as t\n\n\n"
        "def clean(s: str) -> str:\n"
        "    # unescape twice: the standard library's, then ours\n"
        "    return t.unescape(unescape(s))\n"
    ),
    "pkg/cli.py": (
        "from pkg import text\nfrom pkg.text import unescape\n\n\n"
        "def main(raw: str) -> str:\n"
        "    return unescape(raw)\n\n\n"
        "def shout(unescape: str) -> str:\n"
        '    return unescape.upper() + text.unescape("&amp;")\n'
    ),
    "tests/test_pkg.py": (
        "from pkg import unescape\nfrom pkg.cli import main, shout\nfrom pkg.web import clean\n\n\n"
        "def test_unescape() -> None:\n"
        '    assert unescape("&lt;") == "<"\n'
        '    assert main("&gt;") == ">"\n'
        '    assert shout("a") == "A&"\n'
        '    assert clean("&amp;lt;") == "<"\n'
    ),
    "docs/api.rst": (
        "API\n===\n\n"
        ".. autofunction:: pkg.text.unescape\n\n"
        "The unescape function undoes escapes, as :func:`html.unescape` does.\n\n"
        ">>> from pkg import unescape\n"
        '>>> unescape("&amp;")\n'
        "'&'\n"
    ),
}
PY_ARGS = {"old": "unescape", "new": "html_unescape", "defined_in": "pkg/text.py"}


def project(root: Path) -> Path:
    for rel, text in PROJECT.items():
        write(root, rel, text)
    return root


async def test_only_the_symbol_is_renamed_never_a_same_named_import_or_local(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    edits = await consolidated(root, PY_ARGS)
    await apply(root, edits)
    after = {rel: (root / rel).read_text() for rel in PROJECT}
    # The standard library's unescape keeps its name: import and call.
    assert after["pkg/web.py"] == PROJECT["pkg/web.py"].replace("t.unescape(", "t.html_unescape(")
    # The import from its module and the call are renamed; the parameter of the same name and
    # its uses are a local: left. Attribute access on the module is the symbol.
    assert after["pkg/cli.py"] == (
        "from pkg import text\nfrom pkg.text import html_unescape\n\n\n"
        "def main(raw: str) -> str:\n"
        "    return html_unescape(raw)\n\n\n"
        "def shout(unescape: str) -> str:\n"
        '    return unescape.upper() + text.html_unescape("&amp;")\n'
    )
    text = after["pkg/text.py"]
    assert "def html_unescape(s: str) -> str:" in text
    assert "from html import unescape as _std_unescape" in text
    # __all__ was sorted and stays sorted.
    assert '__all__ = ["html_unescape", "quote"]' in text
    # The package re-exports it, so its import, its __all__ and the tests follow.
    assert after["pkg/__init__.py"] == (
        '"""The package."""\n\nfrom pkg.text import quote, html_unescape\n\n'
        '__all__ = ["html_unescape", "quote"]\n'
    )
    assert after["tests/test_pkg.py"].startswith("from pkg import html_unescape\n")
    # Without include_docs, docstrings and docs keep their text.
    assert '>>> unescape("&amp;")' in text
    assert after["docs/api.rst"] == PROJECT["docs/api.rst"]


async def test_every_match_left_is_listed_as_not_changed_with_file_and_line(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    notes = getattr(await consolidated(root, PY_ARGS), "notes")  # noqa: B009
    by_place = {n.split(": ", 2)[1]: n for n in notes}
    assert "another 'unescape', imported from html" in by_place["pkg/web.py:1"]
    assert "in a comment" in by_place["pkg/web.py:7"]
    assert "another 'unescape': a local name" in by_place["pkg/cli.py:9"]
    assert "another 'unescape': a local name" in by_place["pkg/cli.py:10"]
    assert "include_docs: true edits it" in by_place["pkg/text.py:3"]
    assert "include_docs: true edits it" in by_place["docs/api.rst:4"]
    assert "prose" in by_place["docs/api.rst:6"]
    assert set(by_place) == {
        "pkg/web.py:1",
        "pkg/web.py:7",
        "pkg/web.py:8",  # `t.unescape(unescape(s))`: the second is the standard library's
        "pkg/cli.py:9",
        "pkg/cli.py:10",
        "pkg/text.py:3",
        "pkg/text.py:7",  # `from html import unescape as ...`
        "pkg/text.py:17",  # the function's docstring
        "docs/api.rst:4",
        "docs/api.rst:6",
        "docs/api.rst:8",
        "docs/api.rst:9",
    }


async def test_include_docs_edits_references_in_docs_and_docstrings_never_prose(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    result = await consolidated(root, {**PY_ARGS, "include_docs": True})
    await apply(root, result)
    assert (root / "docs/api.rst").read_text() == (
        "API\n===\n\n"
        ".. autofunction:: pkg.text.html_unescape\n\n"
        "The unescape function undoes escapes, as :func:`html.unescape` does.\n\n"
        ">>> from pkg import html_unescape\n"
        '>>> html_unescape("&amp;")\n'
        "'&'\n"
    )
    text = (root / "pkg/text.py").read_text()
    assert '>>> html_unescape("&amp;")' in text
    assert '``html_unescape("&lt;")``' in text
    notes = getattr(result, "notes")  # noqa: B009
    assert any(n.startswith("not changed: docs/api.rst:6: prose; qualified by html") for n in notes)


async def test_a_truncated_search_renames_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    outputs = await run_reads(root, PY_ARGS)
    outputs["find-usages"]["data"]["truncated"] = True
    with pytest.raises(PlanError, match=r"truncated\), so a rename would miss some"):
        RENAME.consolidate(PY_ARGS, outputs, root)


async def test_files_whose_names_slug_alike_get_distinct_step_ids(tmp_path: Path) -> None:
    write(tmp_path, "config.py", CONFIG)
    use = "from config import load_config\n\nload_config()\n"
    write(tmp_path, "a/b.py", use)
    write(tmp_path, "a-b.py", use)
    edits = await consolidated(tmp_path, {**ARGS, "defined_in": "config.py"})
    assert len({s.id for s in edits}) == len(edits)
    assert {s.args["path"] for s in edits} == {"config.py", "a/b.py", "a-b.py"}
    await apply(tmp_path, edits)


def test_verify_takes_step_mappings_as_well_as_names() -> None:
    steps = RENAME.steps(
        {
            **ARGS,
            "verify": [
                "run_ruff",
                {"skill": "run_mypy", "args": {"paths": ["src"]}},
                {"skill": "run_mypy", "args": {"paths": ["tests"]}},
            ],
        }
    )
    assert [(s.id, s.skill, s.args) for s in steps[1:]] == [
        ("ruff", "run_ruff", {}),
        ("mypy", "run_mypy", {"paths": ["src"]}),
        ("mypy-2", "run_mypy", {"paths": ["tests"]}),
        ("commit", "git_checkpoint", {"message": "Rename load_config to read_settings"}),
    ]
    assert steps[-1].after == ["ruff", "mypy", "mypy-2"]


def test_renaming_a_name_to_itself_is_refused() -> None:
    with pytest.raises(ValidationError, match="old and new are the same name"):
        RENAME.steps({"old": "x", "new": "x"})


async def test_fix_imports_adds_one_write_on_the_edited_python_files(tmp_path: Path) -> None:
    root = project(tmp_path)
    edits = await consolidated(root, {**PY_ARGS, "fix_imports": True})
    assert (edits[-1].id, edits[-1].skill) == ("fix-imports", "fix_imports")
    assert edits[-1].args["paths"] == [
        "pkg/__init__.py",
        "pkg/cli.py",
        "pkg/text.py",
        "pkg/web.py",
        "tests/test_pkg.py",
    ]


@pytest.mark.parametrize("include_docs", [False, True])
async def test_a_full_run_renames_verifies_and_commits(
    make_repo: Callable[[dict[str, str]], Path], include_docs: bool
) -> None:
    for name in ("git", "ruff"):
        require_program(name)
    root = make_repo(PROJECT)
    plan = {
        "goal": "rename unescape",
        "recipe": {
            "name": "rename",
            "args": {
                **PY_ARGS,
                "include_docs": include_docs,
                "fix_imports": True,
                "verify": ["run_ruff", {"skill": "run_pytest", "args": {"paths": ["tests"]}}],
            },
        },
    }
    report, _ = await run_collecting(plan, root)
    assert report.status == "completed", report.error
    assert report.commit and git(root, "rev-parse", "HEAD").strip() == report.commit
    assert git(root, "status", "--porcelain") == ""
    by_id = {s.id: s for s in report.steps}
    assert by_id["ruff"].status == by_id["pytest"].status == by_id["fix-imports"].status == "done"
    # The rename left `quote, html_unescape` out of order; the import fix sorted it.
    assert (
        (root / "pkg/__init__.py")
        .read_text()
        .startswith('"""The package."""\n\nfrom pkg.text import html_unescape, quote\n')
    )
    assert "from html import unescape\n" in (root / "pkg/web.py").read_text()
    assert any(n.startswith("not changed: pkg/web.py:1: another 'unescape'") for n in report.notes)
    rst = (root / "docs/api.rst").read_text()
    assert (".. autofunction:: pkg.text.html_unescape" in rst) is include_docs
    changed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert ("docs/api.rst" in changed) is include_docs
