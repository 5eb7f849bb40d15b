"""fix_imports: real ruff sorts the imports of the files it is given, by the project's settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support.repos import require_program, snapshot, write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.fix_imports import SKILL, FixImportsArgs

UNSORTED = "import sys\nfrom os import sep, path\n\nprint(sys, sep, path)\n"


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("ruff")


async def fix(root: Path, *paths: str) -> tuple[list[str], dict[str, str]]:
    result = await SKILL.run(
        FixImportsArgs(paths=list(paths)), SkillContext(workspace=root, step_id="fix-imports")
    )
    return result.files_written, result.data["sha256s"]


async def test_it_sorts_by_the_projects_settings_and_writes_only_what_changes(
    tmp_path: Path,
) -> None:
    # The project's isort settings apply: one name per `from` import.
    write(tmp_path, "pyproject.toml", "[tool.ruff.lint.isort]\nforce-single-line = true\n")
    write(tmp_path, "a.py", UNSORTED)
    write(tmp_path, "b.py", "import os\nimport sys\n\nprint(os, sys)\n")
    write(tmp_path, "c.py", UNSORTED)
    before = snapshot(tmp_path)
    written, shas = await fix(tmp_path, "a.py", "b.py")
    assert written == ["a.py"]
    fixed = (tmp_path / "a.py").read_bytes()
    assert fixed == (
        b"import sys\nfrom os import path\nfrom os import sep\n\nprint(sys, sep, path)\n"
    )
    assert shas == {"a.py": hashlib.sha256(fixed).hexdigest()}
    # Files already sorted, and files it was not given, keep their bytes.
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "a.py"} == {
        k: v for k, v in before.items() if k != "a.py"
    }


async def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match=r"'gone\.py' does not exist"):
        await fix(tmp_path, "gone.py")
