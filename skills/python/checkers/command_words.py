"""A check's command line, read as words: what follows the tool (``python -m mypy``, ``uv run
ruff check``) and which of those words are paths in the workspace, never taken for options or
their values, so that only paths, never options, come from a project's own setup."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from phasegraph.skills.core.errors import WorkspaceViolation
from phasegraph.skills.guards.workspace import resolve_in_workspace

#: Options that take a value as the next word (so that word is no path).
_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "mypy": frozenset(
        {
            "--config-file",
            "--python-version",
            "--platform",
            "--cache-dir",
            "--python-executable",
            "--exclude",
            "--always-true",
            "--always-false",
            "--disable-error-code",
            "--enable-error-code",
            "--enable-incomplete-feature",
            "--custom-typeshed-dir",
            "--package-root",
            "--shadow-file",
            "--junit-xml",
            "--junit-format",
            "--soft-error-limit",
            "--untyped-calls-exclude",
            "--find-occurrences",
            "--any-exprs-report",
            "--cobertura-xml-report",
            "--html-report",
            "--linecount-report",
            "--linecoverage-report",
            "--lineprecision-report",
            "--memory-xml-report",
            "--txt-report",
            "--xml-report",
            "--xslt-html-report",
            "--xslt-txt-report",
        }
    ),
    "ruff": frozenset(
        {
            "--config",
            "--select",
            "--extend-select",
            "--ignore",
            "--extend-ignore",
            "--per-file-ignores",
            "--extend-per-file-ignores",
            "--fixable",
            "--unfixable",
            "--extend-fixable",
            "--exclude",
            "--extend-exclude",
            "--line-length",
            "--target-version",
            "--output-format",
            "-o",
            "--output-file",
            "--cache-dir",
            "--stdin-filename",
            "--dummy-variable-rgx",
            "--external",
            "--extension",
        }
    ),
}
#: mypy options naming what to check other than by path: such a command states no paths.
_MYPY_TARGET_OPTIONS = frozenset({"-p", "--package", "-m", "--module", "-c", "--command"})


def tool_args(words: Sequence[str], tool: str, subcommand: str | None = None) -> list[str] | None:
    """The words after ``tool`` (and its ``subcommand``, which must come next) in a command
    line (``python -m mypy``, ``uv run ruff check`` and a path to the program included);
    ``None`` when the command does not run it."""
    for index, word in enumerate(words):
        if PurePosixPath(word).name.removesuffix(".exe") != tool:
            continue
        rest = list(words[index + 1 :])
        if subcommand is None:
            return rest
        return rest[1:] if rest[:1] == [subcommand] else None
    return None


def positional_paths(workspace: Path, tool: str, args: Sequence[str]) -> list[str]:
    """The existing workspace paths among a command's arguments (options, their values and
    words with unexpanded variables skipped); none for a mypy command naming modules."""
    takes_value = _VALUE_OPTIONS.get(tool, frozenset())
    paths: list[str] = []
    skip = False
    options_end = False
    for word in args:
        if skip:
            skip = False
            continue
        if word in ("&&", "||", ";", "|"):
            break
        if not options_end and word.startswith("-"):
            if word == "--":
                options_end = True
            elif tool == "mypy" and word.split("=", 1)[0] in _MYPY_TARGET_OPTIONS:
                return []
            elif "=" not in word and word in takes_value:
                skip = True
            continue
        if any(c in word for c in "{}$*?`") or not word:
            continue
        rel = PurePosixPath(word.replace("\\", "/")).as_posix()
        with contextlib.suppress(WorkspaceViolation, OSError):
            if resolve_in_workspace(workspace, rel).exists():
                paths.append(rel)
    return paths
