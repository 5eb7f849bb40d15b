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
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.guards.gitrepo import run_git_sync
from phasegraph.skills.guards.workspace import MAX_CONFIG_BYTES, read_toml, resolve_in_workspace
from phasegraph.skills.python.syntax import PYTHON_SUFFIXES

PRECOMMIT_FILES = (".pre-commit-config.yaml", ".pre-commit-config.yml")
#: How many of the paths a result's data lists (a pre-commit listing may name thousands).
_DATA_PATHS = 50

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
            found = _hook_paths(workspace, hook, tool, words)
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
            found = _positional(workspace, tool, args) if args is not None else []
            if found:
                paths += found
                sources.append(source)
        if paths:
            return Invocation(paths=_unique(paths), kind=kind, source=_join_sources(sources))
    return None


# -- mypy's own configuration ------------------------------------------------------------


def mypy_files_setting(workspace: Path) -> str | None:
    """Where mypy's configuration names the files to check (``files = ...``), as a label
    (``[tool.mypy] files``), or ``None``: in mypy's own order, the first file it reads."""
    for name in ("mypy.ini", ".mypy.ini"):
        if (workspace / name).is_file():
            return f"{name} [mypy] files" if _ini_value(workspace / name, "mypy", "files") else None
    pyproject = read_toml(workspace / "pyproject.toml")
    section = pyproject.get("tool", {}).get("mypy")
    if isinstance(section, dict):
        return "[tool.mypy] files" if section.get("files") else None
    setup_cfg = workspace / "setup.cfg"
    if setup_cfg.is_file() and _ini_value(setup_cfg, "mypy", "files"):
        return "setup.cfg [mypy] files"
    return None


def _ini_value(path: Path, section: str, key: str) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return ""
    return parser.get(section, key, fallback="") if parser.has_section(section) else ""


# -- pre-commit -------------------------------------------------------------------------


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


def _hook_paths(workspace: Path, hook: PrecommitHook, tool: str, words: list[str]) -> list[str]:
    """The paths the hook runs ``tool`` on: its positional args and the files it is given."""
    paths = _positional(workspace, tool, words)
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


# -- tox and nox ------------------------------------------------------------------------


def tox_commands(workspace: Path) -> list[tuple[str, list[str]]]:
    """Every command of every tox environment, as ``(where, words)``: ``tox.ini``, else the
    ``[tool.tox]`` of ``pyproject.toml`` (its ``legacy_tox_ini`` or native ``env`` tables)."""
    tox_ini = workspace / "tox.ini"
    if tox_ini.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if tox_ini.stat().st_size <= MAX_CONFIG_BYTES:
                return _ini_commands("tox.ini", tox_ini.read_text(encoding="utf-8"))
        return []
    tox = read_toml(workspace / "pyproject.toml").get("tool", {}).get("tox")
    if not isinstance(tox, dict):
        return []
    if isinstance(tox.get("legacy_tox_ini"), str):
        return _ini_commands("pyproject.toml [tool.tox]", tox["legacy_tox_ini"])
    found: list[tuple[str, list[str]]] = []
    tables = [("env_run_base", tox.get("env_run_base"))]
    envs = tox.get("env")
    if isinstance(envs, dict):
        tables += [(f"env.{name}", table) for name, table in envs.items()]
    for name, table in tables:
        commands = table.get("commands") if isinstance(table, dict) else None
        for command in commands if isinstance(commands, list) else []:
            if isinstance(command, list):
                words = [_tox_word(str(w)) for w in command if isinstance(w, str | int)]
                found.append((f"pyproject.toml [tool.tox.{name}]", [w for w in words if w]))
    return found


def _ini_commands(where: str, text: str) -> list[tuple[str, list[str]]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    found: list[tuple[str, list[str]]] = []
    for section in parser.sections():
        if section != "testenv" and not section.startswith("testenv:"):
            continue
        value = parser.get(section, "commands", fallback="")
        for line in value.replace("\\\n", " ").splitlines():
            # A leading "-" lets the command fail; a leading "!" inverts it.
            line = line.strip().lstrip("-!").strip()
            if not line or line.startswith("#"):
                continue
            line = _POSARGS.sub(lambda m: m.group(1) or "", line)
            try:
                words = [_tox_word(w) for w in shlex.split(line)]
            except ValueError:
                continue
            found.append((f"{where} [{section}]", [w for w in words if w]))
    return found


#: ``{posargs}`` (nothing, when tox is run with no arguments) or ``{posargs:DEFAULT}``.
_POSARGS = re.compile(r"\{posargs(?::([^{}]*))?\}")
_POSARGS_DEFAULT = re.compile(r"^\{posargs:(.*)\}$")


def _tox_word(word: str) -> str:
    """A tox command word with its substitutions made where they are known: ``{toxinidir}``
    is the workspace, ``{posargs:DEFAULT}`` its default; any other is dropped (``""``)."""
    default = _POSARGS_DEFAULT.match(word)
    if default:
        return default.group(1)
    word = word.replace("{toxinidir}/", "").replace("{tox_root}/", "")
    word = word.replace("{toxinidir}", ".").replace("{tox_root}", ".")
    return "" if "{" in word else word


def nox_commands(workspace: Path) -> list[tuple[str, list[str]]]:
    """Every ``session.run(...)`` (and ``run_always``) of ``noxfile.py`` whose leading
    arguments are string literals, as ``("noxfile.py session NAME", words)``; the file is
    parsed, never run."""
    path = workspace / "noxfile.py"
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return []
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return []
    found: list[tuple[str, list[str]]] = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run", "run_always")
            ):
                words = _literal_words(node.args)
                if words:
                    found.append((f"noxfile.py session {function.name}", words))
    return found


def _literal_words(args: Sequence[ast.expr]) -> list[str]:
    words: list[str] = []
    for arg in args:  # up to the first that is not a string literal (*session.posargs)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            break
        words.append(arg.value)
    return words


# -- command words ------------------------------------------------------------------------


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


def _positional(workspace: Path, tool: str, args: Sequence[str]) -> list[str]:
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
