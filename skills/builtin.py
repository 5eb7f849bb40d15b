"""The built-in skills, in phase order."""

from __future__ import annotations

from typing import Any

from phasegraph.skills import (
    fetch_url,
    fix_imports,
    format_code,
    get_file_outline,
    git_checkpoint,
    read_file,
    rg_search,
    run_mypy,
    run_ruff,
    write_file,
)
from phasegraph.skills.base import Skill
from phasegraph.skills.edit_block import skill as edit_block
from phasegraph.skills.run_pytest import skill as run_pytest

BUILTIN_SKILLS: tuple[Skill[Any], ...] = (
    rg_search.SKILL,
    get_file_outline.SKILL,
    read_file.SKILL,
    fetch_url.SKILL,
    edit_block.SKILL,
    write_file.SKILL,
    fix_imports.SKILL,
    format_code.SKILL,
    run_ruff.SKILL,
    run_mypy.SKILL,
    run_pytest.SKILL,
    git_checkpoint.SKILL,
)
