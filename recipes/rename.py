"""The ``rename`` recipe: rename a Python symbol across a repository, verified and committed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from phasegraph.graph.plan import Step
from phasegraph.recipes.base import Recipe
from phasegraph.skills.base import PathArg
from phasegraph.skills.edit_block import find_all
from phasegraph.skills.errors import PlanError
from phasegraph.skills.workspace import resolve_in_workspace

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class RenameArgs(BaseModel):
    """Arguments of the rename recipe."""

    model_config = ConfigDict(extra="forbid")

    old: str = Field(pattern=IDENTIFIER, description="The name to replace.")
    new: str = Field(pattern=IDENTIFIER, description="The new name.")
    path: Annotated[str, PathArg()] = Field(".", description="Where to rename (file or folder).")
    defined_in: Annotated[str, PathArg()] | None = Field(
        None, description="File that defines the symbol; its outline confirms the definition."
    )
    verify: list[str] = Field(
        default_factory=lambda: ["run_ruff", "run_mypy", "run_pytest"],
        description="Verify skills to run after the edits.",
    )
    commit: bool = Field(True, description="Commit the edits when every verify is green.")


class RenameRecipe(Recipe):
    name = "rename"
    description = "Rename a Python symbol across a repository (rg + outline → edit blocks)."
    args_model = RenameArgs

    def steps(self, args: Mapping[str, Any]) -> list[Step]:
        a = RenameArgs.model_validate(dict(args))
        steps = [
            Step(
                id="find-usages",
                skill="rg_search",
                args={"pattern": rf"\b{a.old}\b", "path": a.path, "glob": "*.py"},
            )
        ]
        if a.defined_in:
            steps.append(Step(id="outline", skill="get_file_outline", args={"path": a.defined_in}))
        for skill in a.verify:
            steps.append(Step(id=skill.removeprefix("run_"), skill=skill, args={}))
        if a.commit:
            steps.append(
                Step(
                    id="commit",
                    skill="git_checkpoint",
                    args={"message": f"Rename {a.old} to {a.new}"},
                    after=[s.id for s in steps if s.skill in a.verify],
                )
            )
        return steps

    def consolidate(
        self,
        args: Mapping[str, Any],
        outputs: Mapping[str, Mapping[str, Any]],
        workspace: Path,
    ) -> list[Step]:
        a = RenameArgs.model_validate(dict(args))
        matches = outputs.get("find-usages", {}).get("data", {}).get("matches", [])
        if not matches:
            raise PlanError([f"step 'find-usages': no usage of {a.old!r} under {a.path!r}"])
        if a.defined_in:
            symbols = outputs.get("outline", {}).get("data", {}).get("symbols", [])
            if not any(s.get("name") == a.old for s in symbols):
                raise PlanError(
                    [f"step 'outline': {a.defined_in} defines no {a.old!r}; check 'defined_in'"]
                )
        word = re.compile(rf"\b{re.escape(a.old)}\b")
        files = sorted({m["path"] for m in matches})
        steps: list[Step] = []
        for rel in files:
            text = resolve_in_workspace(workspace, rel).read_text(encoding="utf-8")
            for n, (search, replace) in enumerate(edit_blocks(text, word, a.new), start=1):
                steps.append(
                    Step(
                        id=f"edit-{_slug(rel)}-{n}",
                        skill="edit_block",
                        args={"path": rel, "search": search, "replace": replace},
                    )
                )
        return steps


def edit_blocks(text: str, word: re.Pattern[str], new: str) -> list[tuple[str, str]]:
    """Search/replace pairs that, applied in order, replace every ``word`` in ``text``.

    Each search is the smallest run of whole lines around a hit that occurs
    exactly once in the text as it stands after the previous pairs.
    """
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if not word.search(lines[i]):
            i += 1
            continue
        lo, hi = i, i + 1
        current = "".join(lines)
        # Counted as edit_block counts (overlapping matches too), so each block is unique.
        while len(find_all(current, "".join(lines[lo:hi]))) > 1 and (lo > 0 or hi < len(lines)):
            lo, hi = max(0, lo - 1), min(len(lines), hi + 1)
        search = "".join(lines[lo:hi])
        replace = word.sub(new, search)
        blocks.append((search, replace))
        lines[lo:hi] = replace.splitlines(keepends=True)
        i = hi
    return blocks


def _slug(rel: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", rel).strip("-")[:60] or "file"


RENAME = RenameRecipe()
