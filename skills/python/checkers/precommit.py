"""The project's pre-commit configuration (``.pre-commit-config.yaml``): its hooks, what each
runs, and the files pre-commit would pass it (the Python files git lists, filtered by the
config's and the hook's ``files``/``exclude`` patterns)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.guards.gitrepo import run_git_sync
from phasegraph.skills.guards.workspace import MAX_CONFIG_BYTES
from phasegraph.skills.python.checkers.command_words import positional_paths, tool_args
from phasegraph.skills.python.syntax import PYTHON_SUFFIXES

PRECOMMIT_FILES = (".pre-commit-config.yaml", ".pre-commit-config.yml")

#: What a remote hook runs, by its id, when the config gives no ``entry``.
_HOOK_COMMANDS: dict[str, tuple[str, ...]] = {
    "mypy": ("mypy",),
    "ruff": ("ruff", "check"),
    "ruff-check": ("ruff", "check"),
    "ruff-format": ("ruff", "format"),
    "black": ("black",),
    "black-jupyter": ("black",),
    "yapf": ("yapf",),
    "autopep8": ("autopep8",),
    "blue": ("blue",),
}


@dataclass(frozen=True)
class PrecommitHook:
    """One hook of ``.pre-commit-config.yaml``, as far as the checks need it."""

    #: The config file's name.
    config: str
    repo: str
    id: str
    #: What the hook runs: its ``entry`` split into words, or what its id runs.
    command: tuple[str, ...]
    args: tuple[str, ...]
    #: ``files`` / ``exclude`` patterns: the config's top-level ones, then the hook's.
    files: tuple[str, ...]
    exclude: tuple[str, ...]
    pass_filenames: bool

    def tool_args(self, tool: str, subcommand: str | None = None) -> list[str] | None:
        """The hook's words after ``tool`` (and ``subcommand``), args included, when it runs
        that tool; ``None`` when it does not."""
        return tool_args([*self.command, *self.args], tool, subcommand)


def precommit_hooks(workspace: Path) -> list[PrecommitHook] | None:
    """The hooks of the project's pre-commit config, in its order; ``None`` when it has no
    config (or none that reads as one)."""
    import yaml  # a dependency of phasegraph's (plan files); loaded only when a config exists

    for name in PRECOMMIT_FILES:
        path = workspace / name
        try:
            if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("repos"), list):
            return None
        top_files, top_exclude = _patterns(data.get("files")), _patterns(data.get("exclude"))
        hooks: list[PrecommitHook] = []
        for repo in data["repos"]:
            if not isinstance(repo, dict) or not isinstance(repo.get("hooks"), list):
                continue
            for raw in repo["hooks"]:
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    hook = _hook(name, str(repo.get("repo", "")), raw, top_files, top_exclude)
                    if hook is not None:
                        hooks.append(hook)
        return hooks
    return None


def _hook(
    config: str,
    repo: str,
    raw: dict[str, Any],
    top_files: tuple[str, ...],
    top_exclude: tuple[str, ...],
) -> PrecommitHook | None:
    hook_id = str(raw["id"])
    entry = raw.get("entry")
    if isinstance(entry, str):
        try:
            command = tuple(shlex.split(entry))
        except ValueError:
            return None
    else:
        command = _HOOK_COMMANDS.get(hook_id, (hook_id,))
    args = raw.get("args", [])
    if not isinstance(args, list):
        return None
    return PrecommitHook(
        config=config,
        repo=repo,
        id=hook_id,
        command=command,
        args=tuple(str(a) for a in args),
        files=top_files + _patterns(raw.get("files")),
        exclude=top_exclude + _patterns(raw.get("exclude")),
        pass_filenames=raw.get("pass_filenames", True) is not False,
    )


def _patterns(value: object) -> tuple[str, ...]:
    # pre-commit's default `files` is '' (everything) and its default `exclude` '^$'.
    return (value,) if isinstance(value, str) and value not in ("", "^$") else ()


def hook_paths(workspace: Path, hook: PrecommitHook, tool: str, words: list[str]) -> list[str]:
    """The paths the hook runs ``tool`` on: its positional args and the files it is given."""
    paths = positional_paths(workspace, tool, words)
    if not hook.pass_filenames:
        return paths
    if not hook.files and not hook.exclude:
        return [*paths, "."]  # every Python file
    try:
        wanted = [re.compile(p) for p in hook.files]
        unwanted = [re.compile(p) for p in hook.exclude]
    except re.error:
        return paths
    return paths + [
        rel
        for rel in _listed_files(workspace)
        if PurePosixPath(rel).suffix in PYTHON_SUFFIXES
        and all(p.search(rel) for p in wanted)
        and not any(p.search(rel) for p in unwanted)
    ]


def _listed_files(workspace: Path) -> list[str]:
    """The files git lists in the workspace, as pre-commit's ``--all-files`` sees them (and
    the untracked ones not ignored, which the run may have created)."""
    try:
        proc = run_git_sync(
            workspace, "ls-files", "-z", "--cached", "--others", "--exclude-standard"
        )
    except SkillError:  # git is not installed
        return []
    if proc.returncode != 0 or proc.timed_out:
        return []
    return sorted({name for name in proc.stdout.split("\0") if name})
