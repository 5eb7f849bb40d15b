"""The ``rename`` recipe: rename a Python symbol across a repository, verified and committed.

ripgrep finds every file that mentions the name; tree-sitter then tells which occurrences
are the symbol ``defined_in`` defines (:mod:`phasegraph.recipes.python_names`). Only those
are edited; every other match is listed in the report as not changed, with its reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from phasegraph.graph.model.plan import STEP_ID_PATTERN, Step
from phasegraph.recipes.base import Recipe, Writes
from phasegraph.recipes.doc_names import DOC_SUFFIXES, HISTORY_WHY, doc_findings, is_history
from phasegraph.recipes.occurrences import Change, FileChanges, Symbol, split_lines, word
from phasegraph.recipes.python_imports import defines, reexports
from phasegraph.recipes.python_names import python_findings
from phasegraph.skills.base import PathArg
from phasegraph.skills.core.errors import PlanError, WorkspaceViolation
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.edit_block.ladder import find_all
from phasegraph.skills.guards.workspace import resolve_in_workspace, workspace_relative
from phasegraph.skills.python.imports.layout import module_name
from phasegraph.skills.python.syntax import PYTHON_SUFFIXES

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: The search stops here; a search that hits it renames nothing (never a partial rename).
MAX_MATCHES = 20_000
#: "Not changed" lines the report lists; the rest are counted.
MAX_NOTES = 60


class VerifyStep(BaseModel):
    """A verify step with its own arguments: ``{skill: run_mypy, args: {paths: [src]}}``."""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, pattern=STEP_ID_PATTERN, description="Default: the skill's.")


class RenameArgs(BaseModel):
    """Arguments of the rename recipe."""

    model_config = ConfigDict(extra="forbid")

    old: str = Field(pattern=IDENTIFIER, description="The name to replace.")
    new: str = Field(pattern=IDENTIFIER, description="The new name.")
    path: Annotated[str, PathArg()] = Field(".", description="Where to rename (file or folder).")
    defined_in: Annotated[str, PathArg()] | None = Field(
        None,
        description="The Python file that defines the symbol; default: the one file under "
        "'path' whose top level defines it.",
    )
    verify: list[str | VerifyStep] = Field(
        default_factory=lambda: list[str | VerifyStep](["run_ruff", "run_mypy", "run_pytest"]),
        description="Verify steps to run after the edits: skill names, or {skill, args, id}.",
    )
    commit: bool = Field(True, description="Commit the edits when every verify is green.")
    include_docs: bool = Field(
        False,
        description="Also edit references in docs and docstrings (doctest lines, directives "
        "such as autofunction, roles, inline and fenced code); prose is never edited.",
    )
    fix_imports: bool = Field(
        False, description="Sort the imports of the edited Python files (ruff's I rules)."
    )

    @model_validator(mode="after")
    def _renames_something(self) -> Self:
        if self.old == self.new:
            raise ValueError(
                f"old and new are the same name ({self.old!r}); give the new name in 'new'"
            )
        return self


class RenameRecipe(Recipe):
    name = "rename"
    description = "Rename a Python symbol across a repository (rg + tree-sitter → edit blocks)."
    args_model = RenameArgs

    def steps(self, args: Mapping[str, Any]) -> list[Step]:
        a = RenameArgs.model_validate(dict(args))
        steps = [
            Step(
                id="find-usages",
                skill="rg_search",
                args={"pattern": rf"\b{a.old}\b", "path": a.path, "max_matches": MAX_MATCHES},
            )
        ]
        if a.defined_in:
            steps.append(Step(id="outline", skill="get_file_outline", args={"path": a.defined_in}))
        checks: list[str] = []
        for item in a.verify:
            check = item if isinstance(item, VerifyStep) else VerifyStep(skill=item)
            step_id = check.id or check.skill.removeprefix("run_")
            n = 1
            while step_id in {s.id for s in steps}:
                n += 1
                step_id = f"{check.id or check.skill.removeprefix('run_')}-{n}"
            steps.append(Step(id=step_id, skill=check.skill, args=check.args))
            checks.append(step_id)
        if a.commit:
            steps.append(
                Step(
                    id="commit",
                    skill="git_checkpoint",
                    args={"message": f"Rename {a.old} to {a.new}"},
                    after=checks,
                )
            )
        return steps

    def check(self, args: Mapping[str, Any], workspace: Path) -> list[str]:
        a = RenameArgs.model_validate(dict(args))
        if a.defined_in is None:
            return []
        fix = (
            f"give the Python file that defines {a.old!r}, relative to the workspace, or leave "
            "'defined_in' out to have it found"
        )
        try:
            target = resolve_in_workspace(workspace, a.defined_in)
        except WorkspaceViolation as exc:
            return [f"recipe rename: defined_in: {exc.message}"]
        if not target.is_file():
            return [
                f"recipe rename: defined_in: {a.defined_in} is not a file in {workspace}; {fix}"
            ]
        if target.suffix not in PYTHON_SUFFIXES:
            return [f"recipe rename: defined_in: {a.defined_in} is not a Python file; {fix}"]
        return []

    def consolidate(
        self,
        args: Mapping[str, Any],
        outputs: Mapping[str, Mapping[str, Any]],
        workspace: Path,
    ) -> Writes:
        a = RenameArgs.model_validate(dict(args))
        data = outputs.get("find-usages", {}).get("data", {})
        matches = data.get("matches", [])
        if data.get("truncated"):
            raise PlanError(
                [
                    f"step 'find-usages': the search for {a.old!r} stopped at "
                    f"{plural(len(matches), 'match')} (truncated), so a rename would miss some; "
                    "nothing was renamed: narrow 'path' and run the recipe once per part"
                ]
            )
        if not matches:
            raise PlanError([f"step 'find-usages': no usage of {a.old!r} under {a.path!r}"])
        files = sorted({str(m["path"]) for m in matches})
        texts = {rel: _read(workspace, rel) for rel in files if _suffix(rel) in _READ_SUFFIXES}
        defining = self._defining_file(a, workspace, texts)
        symbol = _symbol(a, workspace, defining, texts)

        left: dict[str, FileChanges] = {}
        steps: list[Step] = []
        edited_python: list[str] = []
        slugs: dict[str, str] = {}
        for rel in files:
            text = texts.get(rel)
            if text is None:
                found = FileChanges()
                for m in matches:
                    if m["path"] == rel:
                        found.leave(int(m["line"]) - 1, 0, _why_other(rel))
                left[rel] = found
                continue
            if _suffix(rel) in PYTHON_SUFFIXES:
                module, package = module_name(rel, lambda r: (workspace / r).is_file())
                found = python_findings(
                    text,
                    module,
                    package,
                    symbol,
                    defining=rel == defining,
                    include_docs=a.include_docs,
                )
            else:
                found = doc_findings(rel, text, symbol, a.include_docs)
            _account(text, a.old, found)
            left[rel] = found
            blocks = change_blocks(text, found.changes)
            if blocks and _suffix(rel) in PYTHON_SUFFIXES:
                edited_python.append(rel)
            slug = _unique_slug(rel, slugs)
            for n, (search, replace) in enumerate(blocks, start=1):
                steps.append(
                    Step(
                        id=f"edit-{slug}-{n}",
                        skill="edit_block",
                        args={"path": rel, "search": search, "replace": replace},
                    )
                )
        notes = _notes(left, texts, matches)
        if not steps:
            raise PlanError(
                [
                    f"step 'find-usages': no occurrence of {a.old!r} under {a.path!r} is the "
                    f"symbol {defining} defines, so there is nothing to rename; check 'path' "
                    "and 'defined_in'",
                    *notes[:5],
                ]
            )
        if a.fix_imports and edited_python:
            steps.append(Step(id="fix-imports", skill="fix_imports", args={"paths": edited_python}))
        return Writes(steps, notes)

    def _defining_file(self, a: RenameArgs, workspace: Path, texts: dict[str, str | None]) -> str:
        """The workspace-relative file that defines the symbol, checked to define it."""
        if a.defined_in is not None:
            target = resolve_in_workspace(workspace, a.defined_in)
            rel = workspace_relative(workspace, target)
            text = texts.get(rel) if rel in texts else _read(workspace, rel)
            if text is None or not defines(text, a.old):
                raise PlanError(
                    [f"step 'outline': {a.defined_in} defines no {a.old!r}; check 'defined_in'"]
                )
            texts.setdefault(rel, text)
            return rel
        found = [
            rel
            for rel, text in texts.items()
            if _suffix(rel) in PYTHON_SUFFIXES and text is not None and defines(text, a.old)
        ]
        if len(found) == 1:
            return found[0]
        where = f"under {a.path!r}" if a.path not in ("", ".") else "in the workspace"
        if not found:
            problem = f"no Python file {where} defines {a.old!r} at its top level"
        else:
            problem = f"{plural(len(found), 'file')} {where} define {a.old!r}: {', '.join(found)}"
        raise PlanError(
            [f"recipe rename: {problem}; name the one to rename in 'defined_in' (a file path)"]
        )


#: Files the recipe reads and parses: Python and documentation.
_READ_SUFFIXES = (*PYTHON_SUFFIXES, *DOC_SUFFIXES)


def _suffix(rel: str) -> str:
    return PurePosixPath(rel).suffix.lower()


def _read(workspace: Path, rel: str) -> str | None:
    try:
        return resolve_in_workspace(workspace, rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, WorkspaceViolation):
        return None


def _why_other(rel: str) -> str:
    if is_history(rel) and _suffix(rel) not in PYTHON_SUFFIXES:
        return HISTORY_WHY
    if _suffix(rel) in _READ_SUFFIXES:
        return "not readable as UTF-8 text"
    return "not a Python or documentation file"


def _symbol(a: RenameArgs, workspace: Path, defining: str, texts: dict[str, str | None]) -> Symbol:
    """The symbol, with every module that re-exports it (``from .mod import old`` in a
    package's ``__init__``), followed until no more are found."""

    def is_file(rel: str) -> bool:
        return (workspace / rel).is_file()

    modules = {module_name(defining, is_file)[0]}
    names = {
        rel: module_name(rel, is_file)
        for rel, text in texts.items()
        if text is not None and _suffix(rel) in PYTHON_SUFFIXES
    }
    imports = {
        rel: reexports(text, *names[rel], a.old)
        for rel, text in texts.items()
        if text is not None and rel in names
    }
    grown = True
    while grown:
        grown = False
        for rel, sources in imports.items():
            module = names[rel][0]
            if module not in modules and sources & modules:
                modules.add(module)
                grown = True
    return Symbol(old=a.old, new=a.new, modules=frozenset(modules))


def _account(text: str, old: str, found: FileChanges) -> None:
    """Every occurrence of the word is either changed or left with a reason."""
    changed = {(c.line, c.start) for c in found.changes}
    pattern = word(old)
    for row, line in enumerate(split_lines(text)):
        for match in pattern.finditer(line):
            if (row, match.start()) not in changed:
                found.leave(row, match.start(), "not a name the rename can place")


def _notes(
    left: dict[str, FileChanges], texts: dict[str, str | None], matches: list[dict[str, Any]]
) -> list[str]:
    """``not changed: file:line: why: the line`` for each line holding an occurrence left."""
    shown = {(str(m["path"]), int(m["line"]) - 1): str(m["text"]) for m in matches}
    notes: list[str] = []
    for rel, found in sorted(left.items()):
        text = texts.get(rel)
        lines = split_lines(text) if text is not None else []
        reasons: dict[int, list[str]] = {}
        for (row, _), why in sorted(found.left.items()):
            if why not in reasons.setdefault(row, []):
                reasons[row].append(why)
        for row, whys in sorted(reasons.items()):
            line = lines[row] if row < len(lines) else shown.get((rel, row), "")
            notes.append(f"not changed: {rel}:{row + 1}: {'; '.join(whys)}: {clip(line, 100)}")
    if len(notes) > MAX_NOTES:
        rest = len(notes) - MAX_NOTES
        notes = [*notes[:MAX_NOTES], f"not changed: {plural(rest, 'more line')} not listed"]
    return notes


def change_blocks(text: str, changes: list[Change]) -> list[tuple[str, str]]:
    """Search/replace pairs that, applied in order, make ``changes`` in ``text``.

    Each search is the smallest run of whole lines around a changed line that occurs
    exactly once in the text as it stands after the previous pairs.
    """
    lines = split_lines(text)
    by_line: dict[int, list[Change]] = {}
    for change in changes:
        by_line.setdefault(change.line, []).append(change)
    new_lines = list(lines)
    for row, found in by_line.items():
        line = lines[row]
        for change in sorted(found, key=lambda c: c.start, reverse=True):
            line = line[: change.start] + change.text + line[change.end :]
        new_lines[row] = line
    blocks: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        if i not in by_line:
            i += 1
            continue
        lo, hi = i, i + 1
        current = "".join(lines)
        # Counted as edit_block counts (overlapping matches too), so each block is unique.
        while len(find_all(current, "".join(lines[lo:hi]))) > 1 and (lo > 0 or hi < len(lines)):
            lo, hi = max(0, lo - 1), min(len(lines), hi + 1)
        blocks.append(("".join(lines[lo:hi]), "".join(new_lines[lo:hi])))
        lines[lo:hi] = new_lines[lo:hi]
        i = hi
    return blocks


def _unique_slug(rel: str, taken: dict[str, str]) -> str:
    """A step-id part for ``rel``, never the same as another file's (``a/b.py``, ``a-b.py``)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", rel).strip("-")[:60] or "file"
    if taken.get(slug, rel) != rel:
        slug = f"{slug[:51]}-{hashlib.sha256(rel.encode()).hexdigest()[:8]}"
    taken[slug] = rel
    return slug


RENAME = RenameRecipe()
