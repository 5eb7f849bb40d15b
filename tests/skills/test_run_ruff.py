"""run_ruff on real repos: stable findings, clean trees, a workspace left untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.repos import require_program, snapshot, write

from phasegraph.skills import checks as verify_common
from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.run_ruff import SKILL, RunRuffArgs, run_ruff

MakeRepo = Callable[[dict[str, str]], Path]
UNUSED = "pkg/mod.py::F401::`os` imported but unused"


@pytest.fixture(autouse=True)
def _ruff_installed() -> None:
    require_program("ruff")


def test_skill_is_a_verify_skill_needing_ruff() -> None:
    assert SKILL.kind is SkillKind.VERIFY
    assert SKILL.programs == ("ruff",)
    assert SKILL.path_fields() == ["paths"]


async def test_lint_error_is_a_stable_finding_with_details_in_data(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "import os\n", "ok.py": "x = 1\n"})

    result = await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))

    assert not result.ok
    assert result.findings == [UNUSED]
    [violation] = result.data["violations"]
    assert violation["path"] == "pkg/mod.py"
    assert (violation["line"], violation["column"], violation["code"]) == (1, 8, "F401")
    assert "first pkg/mod.py:1:8: F401" in result.summary
    assert len(result.summary) <= 200


async def test_finding_key_does_not_move_with_the_line(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "import os\n"})
    before = await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))
    write(repo, "pkg/mod.py", '"""Docs."""\n\nimport os\n')

    after = await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))

    assert after.data["violations"][0]["line"] == 3
    assert after.findings == before.findings == [UNUSED]


async def test_clean_tree_is_ok(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "X = 1\n"})

    result = await run_ruff(RunRuffArgs(paths=["pkg"]), SkillContext(workspace=repo))

    assert result.ok
    assert result.findings == []
    assert result.summary == "ruff: no problems"


async def test_workspace_untouched_even_when_the_project_asks_ruff_to_fix(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"pyproject.toml": "[tool.ruff]\nfix = true\n", "pkg/mod.py": "import os\n"})
    before = snapshot(repo)

    result = await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))

    assert result.findings == [UNUSED]
    assert snapshot(repo) == before
    assert not (repo / ".ruff_cache").exists()


async def test_a_path_that_looks_like_an_option_is_a_path(make_repo: MakeRepo) -> None:
    # Were "--fix" read as an option, ruff would lint "." and fix mod.py in place.
    repo = make_repo({"--fix/mod.py": "import os\n", "pkg/other.py": "import sys\n"})
    before = snapshot(repo)

    result = await run_ruff(RunRuffArgs(paths=["--fix"]), SkillContext(workspace=repo))

    assert result.findings == ["--fix/mod.py::F401::`os` imported but unused"]
    assert snapshot(repo) == before


async def test_missing_path_is_a_finding_not_a_crash(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "X = 1\n"})

    result = await run_ruff(RunRuffArgs(paths=["pkg", "pkg/new.py"]), SkillContext(workspace=repo))

    assert not result.ok
    assert result.findings == ["pkg/new.py::not-found::path does not exist"]


async def test_path_outside_the_workspace_is_refused(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "X = 1\n"})

    with pytest.raises(WorkspaceViolation):
        await run_ruff(RunRuffArgs(paths=["../"]), SkillContext(workspace=repo))


async def test_broken_config_is_a_tool_error_with_ruffs_message(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {"pyproject.toml": '[tool.ruff]\nline-length = "long"\n', "pkg/mod.py": "X = 1\n"}
    )

    with pytest.raises(SkillError) as caught:
        await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))

    assert "line-length" in str(caught.value)


async def test_missing_ruff_says_how_to_install_it(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"pkg/mod.py": "X = 1\n"})
    monkeypatch.setattr(verify_common, "find_program", lambda name: None)

    with pytest.raises(SkillError, match=r"ruff is not installed.*pip install ruff"):
        await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))


async def test_no_paths_lints_what_the_project_configures(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "pyproject.toml": '[tool.ruff]\nextend-exclude = ["legacy"]\n',
            "app.py": "import os\n",
            "legacy/old.py": "import sys\n",
        }
    )

    result = await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))

    assert [f.split("::")[:2] for f in result.findings] == [["app.py", "F401"]]
    [detail] = result.details.values()
    assert detail.startswith("app.py:1:8: F401 ")
