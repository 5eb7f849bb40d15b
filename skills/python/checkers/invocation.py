"""How the project itself runs mypy and ``ruff check``: the paths its own setup states, for
run_mypy and run_ruff when a plan gives none.

Read in this order, the first that states paths winning (each on the workspace as it is now,
so a check's baseline and its run after the writes read the same setup unless a write
changed it):

1. mypy only: mypy's own ``files`` setting (``mypy.ini``, ``.mypy.ini``, ``[tool.mypy]`` of
   ``pyproject.toml``, ``[mypy]`` of ``setup.cfg``, the first of them mypy reads). mypy then
   runs with no path arguments, so it applies that setting itself.
2. ``.pre-commit-config.yaml``: the hooks that run the tool (``id: mypy``; ``id: ruff`` or
   ``ruff-check``; a local hook whose ``entry`` runs it). The paths are the hook's
   positional ``args`` and, unless ``pass_filenames: false``, the files pre-commit would pass:
   the Python files (``.py``, ``.pyi``) git lists (tracked, or untracked and not ignored),
   filtered by the config's and the hook's ``files``/``exclude`` patterns; a hook with
   neither pattern passes every Python file, which is ``.``.
3. A tox environment's ``commands`` (``tox.ini``, ``[tool.tox]`` of ``pyproject.toml``), then
   a nox session's ``session.run(...)`` calls (``noxfile.py``, read with :mod:`ast`, never
   run), naming ``mypy <paths>`` / ``ruff check <paths>``; paths of several are joined.
4. Otherwise the default: ``.`` (ruff: the workspace, less its configured excludes).

Only paths are taken, never options: an option from a config file could write files
(``--output-file``, ``--junit-xml``) or change what counts as a finding, and checks run
with phasegraph's own options. A command naming modules rather than paths (``mypy -p pkg``)
states no paths. A named path that does not exist, or resolves outside the workspace, is
left out. A Makefile's targets are not read.

This module holds the order and its answer (:class:`Invocation`); each source is read by its
own: :mod:`~phasegraph.skills.python.checkers.mypy_config`,
:mod:`~phasegraph.skills.python.checkers.precommit`,
:mod:`~phasegraph.skills.python.checkers.runner_commands`, and a command line's paths by
:mod:`~phasegraph.skills.python.checkers.command_words`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from phasegraph.skills.python.checkers.command_words import positional_paths, tool_args
from phasegraph.skills.python.checkers.mypy_config import mypy_files_setting
from phasegraph.skills.python.checkers.precommit import hook_paths, precommit_hooks
from phasegraph.skills.python.checkers.runner_commands import nox_commands, tox_commands

#: How many of the paths a result's data lists (a pre-commit listing may name thousands).
_DATA_PATHS = 50


@dataclass(frozen=True)
class Invocation:
    """What a check runs on when the plan names no paths, and where that comes from."""

    #: The paths to give the tool, workspace-relative (``()``: none, the tool's own
    #: configuration decides).
    paths: tuple[str, ...]
    #: Where they come from: ``config``, ``pre-commit``, ``tox``, ``nox`` or ``default``.
    kind: str
    #: The file (and section, hook, environment or session) that states them.
    source: str

    def describe(self) -> str:
        """One phrase for the step's summary: ``paths from [tool.mypy] files``,
        ``paths from .pre-commit-config.yaml hook mypy``, ``default: .``."""
        return "default: ." if self.kind == "default" else f"paths from {self.source}"

    def as_data(self) -> dict[str, object]:
        """The invocation as a result's data keeps it (the first paths, and how many)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "described": self.describe(),
            "paths": list(self.paths[:_DATA_PATHS]),
            "path_count": len(self.paths),
        }


def mypy_invocation(workspace: Path) -> Invocation:
    """How the project runs mypy (see the module's docstring for the order)."""
    files = mypy_files_setting(workspace)
    if files:
        return Invocation(paths=(), kind="config", source=files)
    return _stated(workspace, "mypy", None) or Invocation(paths=(".",), kind="default", source=".")


def ruff_invocation(workspace: Path) -> Invocation:
    """How the project runs ``ruff check`` (see the module's docstring for the order); by
    default no paths, so ruff lints the workspace as its own configuration says."""
    return _stated(workspace, "ruff", "check") or Invocation(paths=(), kind="default", source=".")


def _stated(workspace: Path, tool: str, subcommand: str | None) -> Invocation | None:
    hooks = precommit_hooks(workspace)
    if hooks:
        paths: list[str] = []
        ids: list[str] = []
        for hook in hooks:
            words = hook.tool_args(tool, subcommand)
            if words is None:
                continue
            found = hook_paths(workspace, hook, tool, words)
            if found:
                paths += found
                ids.append(hook.id)
        if paths:
            where = f"{hooks[0].config} hook {', '.join(dict.fromkeys(ids))}"
            return Invocation(paths=_unique(paths), kind="pre-commit", source=where)
    for kind, commands in (("tox", tox_commands(workspace)), ("nox", nox_commands(workspace))):
        paths, sources = [], []
        for source, words in commands:
            args = tool_args(words, tool, subcommand)
            found = positional_paths(workspace, tool, args) if args is not None else []
            if found:
                paths += found
                sources.append(source)
        if paths:
            return Invocation(paths=_unique(paths), kind=kind, source=_join_sources(sources))
    return None


def _unique(paths: Iterable[str]) -> tuple[str, ...]:
    every = list(dict.fromkeys(paths))
    # A "." covers every other path: the rest would only be checked twice.
    return (".",) if "." in every else tuple(every)


def _join_sources(sources: list[str]) -> str:
    """``tox.ini [testenv:lint], [testenv:type]``: the file named once."""
    unique = list(dict.fromkeys(sources))
    first = unique[0]
    rest = [
        s.split(" ", 1)[1] if s.split(" ", 1)[0] == first.split(" ", 1)[0] else s
        for s in unique[1:]
    ]
    return ", ".join([first, *rest])
