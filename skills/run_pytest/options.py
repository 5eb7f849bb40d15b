"""The pytest options a plan may pass to run_pytest, why the others are refused, and the
early-stop options a judged run drops."""

from __future__ import annotations

import re

from phasegraph.skills.guards.workspace import static_path_problem

#: pytest options a plan may pass that take no value (short ones combine: ``-xq``, ``-vv``).
FLAG_OPTIONS = frozenset(
    {
        "-x",
        "--exitfirst",
        "-q",
        "--quiet",
        "-v",
        "--verbose",
        "-l",
        "--showlocals",
        "-s",
        "--runxfail",
        "--strict-markers",
        "--strict-config",
        "--no-header",
        "--no-summary",
        "--disable-warnings",
        "--disable-pytest-warnings",
        "--setup-show",
        "--full-trace",
    }
)
#: pytest options a plan may pass with one value (``-k EXPR``, ``-kEXPR``, ``--tb=short``).
VALUE_OPTIONS = frozenset(
    {
        "-k",
        "-m",
        "-r",
        "-W",
        "--pythonwarnings",
        "--maxfail",
        "--tb",
        "--durations",
        "--durations-min",
        "--capture",
        "--deselect",
        "-n",
        "--numprocesses",
        "--timeout",
        # Leave a file or folder out (a test module that cannot import, say): path-checked.
        "--ignore",
        "--ignore-glob",
        # pytest-randomly's seed: a plan may pin it (phasegraph pins one per run otherwise).
        "--randomly-seed",
    }
)
#: Options named in the refusal because a plan might well try them: they write or delete
#: files (``--basetemp`` empties its folder), load code or send output over the network.
DENIED_OPTIONS = frozenset(
    {
        "--basetemp",
        "--junitxml",
        "--junit-xml",
        "--debug",
        "--log-file",
        "--pastebin",
        "-p",
        "-c",
        "--config-file",
        "--rootdir",
        "-o",
        "--override-ini",
        "--confcutdir",
        # Collects without running a test: a check that checks nothing.
        "--co",
        "--collect-only",
    }
)
#: Options that stop a run early (``-x``, ``--maxfail``): a judged run always runs its whole
#: selection, or a known failure would hide a new one behind it, so they are dropped.
EARLY_STOP = frozenset({"-x", "--exitfirst", "--maxfail"})
_SHORT_FLAGS = frozenset(o[1] for o in FLAG_OPTIONS if len(o) == 2)


def check_pytest_args(args: list[str]) -> list[str]:
    """``args`` if every one is an allowed pytest option or its value, else a ValueError.

    Only the options in :data:`FLAG_OPTIONS` and :data:`VALUE_OPTIONS` pass: a
    plan cannot load plugins, point pytest at other configuration or folders,
    or make it write files. Test paths go in ``paths``, where the workspace
    check applies, so a bare word is refused here; so is a value starting with
    ``-``, which pytest could read as another option.
    """
    wanted: str | None = None  # the option whose value comes next
    for arg in args:
        if "\x00" in arg:
            raise ValueError(f"pytest argument {arg!r} contains a NUL byte")
        if wanted is not None:
            _check_value(wanted, arg)
            wanted = None
        elif arg.startswith("--"):
            name, has_value, value = arg.partition("=")
            if name in FLAG_OPTIONS and not has_value:
                continue
            if name not in VALUE_OPTIONS:
                raise ValueError(_not_allowed(name))
            if has_value:
                _check_value(name, value)
            else:
                wanted = name
        elif arg.startswith("-") and len(arg) > 1:
            name = arg[:2]
            if name == "-p":  # only ever to switch a plugin off: -p no:NAME
                if len(arg) > 2:
                    _check_plugin_off(arg[2:].removeprefix("="))
                else:
                    wanted = name
            elif name in VALUE_OPTIONS:
                if len(arg) > 2:
                    _check_value(name, arg[2:].removeprefix("="))
                else:
                    wanted = name
            elif not all(flag in _SHORT_FLAGS for flag in arg[1:]):
                bad = next(f"-{flag}" for flag in arg[1:] if flag not in _SHORT_FLAGS)
                raise ValueError(_not_allowed(bad))
        else:
            raise ValueError(
                f"pytest argument {arg!r} is not an option; give test paths in `paths`, "
                "where they are checked against the workspace"
            )
    if wanted is not None:
        raise ValueError(f"pytest option {wanted} needs a value after it")
    return args


def without_early_stop(args: list[str]) -> tuple[list[str], list[str]]:
    """``args`` (already checked) without the options that stop a run early, and those
    dropped: ``-x`` (also inside ``-xq``), ``--exitfirst``, ``--maxfail N``."""
    kept: list[str] = []
    dropped: list[str] = []
    value_of: str | None = None  # the option whose value comes next
    for arg in args:
        if value_of is not None:
            (dropped if value_of == "--maxfail" else kept).append(arg)
            value_of = None
            continue
        name = arg.partition("=")[0] if arg.startswith("--") else arg[:2]
        if arg.startswith("--"):
            if name in EARLY_STOP:
                dropped.append(arg)
                value_of = name if name == "--maxfail" and "=" not in arg else None
                continue
            value_of = name if name in VALUE_OPTIONS and "=" not in arg else None
        elif name in VALUE_OPTIONS or name == "-p":
            value_of = name if len(arg) == 2 else None
        elif "x" in arg[1:]:  # a run of short flags
            dropped.append("-x")
            rest = arg.replace("x", "")
            if rest != "-":
                kept.append(rest)
            continue
        kept.append(arg)
    return kept, dropped


_PLUGIN_OFF = re.compile(r"no:[A-Za-z0-9_.\-]+")


def _check_plugin_off(value: str) -> None:
    if not _PLUGIN_OFF.fullmatch(value):
        raise ValueError(
            f"pytest option -p {value!r} is not allowed: a plan may switch a plugin off "
            "(-p no:NAME) but not load code from elsewhere"
        )


def _check_value(option: str, value: str) -> None:
    if option == "-p":
        _check_plugin_off(value)
        return
    if value.startswith("-"):
        raise ValueError(
            f"the value {value!r} of pytest option {option} starts with '-', so pytest could "
            f"read it as an option; write it as {option}=... without the leading '-'"
        )
    if option in ("--deselect", "--ignore", "--ignore-glob"):
        problem = static_path_problem(value.split("::", 1)[0])
        if problem:
            raise ValueError(f"{option} {value!r}: {problem}")
    if option == "--randomly-seed" and not value.isdigit():
        raise ValueError(f"--randomly-seed {value!r}: give the seed as a whole number")


def _not_allowed(name: str) -> str:
    if name in ("--co", "--collect-only"):
        return (
            f"pytest option {name} is not allowed: it collects tests without running them, "
            "so the check would check nothing; use -k or paths to run fewer tests"
        )
    if name in DENIED_OPTIONS:
        return (
            f"pytest option {name} is not allowed: it writes files, loads code or "
            "configuration from elsewhere, or sends output elsewhere, and a check must "
            "leave the workspace untouched"
        )
    allowed = ", ".join(sorted(FLAG_OPTIONS | VALUE_OPTIONS))
    return f"pytest option {name} is not one a plan may pass (allowed: {allowed})"
