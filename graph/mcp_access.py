"""What an MCP client may do: the owner's workspace roots and options, a client's held to them.

The owner of a ``phasegraph mcp`` server names the folders its clients may work in and the
options every run starts from (its command's flags); a client names a workspace under one of
those folders and may only tighten the options, as a client of the LangGraph server may
(:func:`~phasegraph.graph.model.context.served_options`, the same rule and messages). Both are
checked before anything runs or is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from phasegraph.graph.model.context import (
    SERVED_ALLOW_HOSTS,
    SERVED_CAPS,
    SERVED_STRICT,
    RunOptions,
    served_options,
)
from phasegraph.nodes.planner import WORKSPACE_ROOTS, served_python
from phasegraph.skills.core.errors import InputRefused, PreflightError
from phasegraph.skills.python.env.discovery import interpreter_path, unexpanded_problem

#: The run options a client may send (the rest are the owner's alone, or for a chat model,
#: which this server has none of): each may tighten what the owner set, never loosen it.
CLIENT_OPTIONS = (
    "on_stop",
    "strict",
    "step_timeout",
    "retries",
    "baseline",
    "baseline_cache",
    "python",
    "allow_hosts",
    "scrub_env",
)

_DEFAULTS = {f.name: f.default for f in fields(RunOptions) if f.default is not MISSING}


def roots_from(given: Sequence[str | Path], environ: Mapping[str, str] | None = None) -> list[Path]:
    """The workspace roots: ``given`` (``--root``), else ``PHASEGRAPH_WORKSPACE_ROOTS``
    (``os.pathsep``-separated), each an existing folder, resolved. Raises
    :class:`PreflightError` naming the fix when there are none or one is not a folder."""
    env = os.environ if environ is None else environ
    listed = [str(r) for r in given] or [
        r for r in env.get(WORKSPACE_ROOTS, "").split(os.pathsep) if r.strip()
    ]
    if not listed:
        raise PreflightError(
            "phasegraph mcp needs the folders its clients may work in: give --root DIR (once "
            f"per folder) or set {WORKSPACE_ROOTS} (folders separated by {os.pathsep!r})"
        )
    roots = []
    for root in listed:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            raise PreflightError(
                f"workspace root {root} is not an existing folder; give --root (or "
                f"{WORKSPACE_ROOTS}) folders that exist"
            )
        roots.append(path)
    return roots


@dataclass(frozen=True)
class Owner:
    """What the server's owner allows: the workspace ``roots`` (resolved folders) and the
    ``options`` every run starts from, which bind: a client's options may only tighten them.

    The owner's limits are its options (a strict owner makes every run strict, its
    ``step_timeout`` and ``retries`` are the caps, its ``allow_hosts`` the most a client may
    open), over the ``PHASEGRAPH_*`` settings of the server's environment, which the LangGraph
    server reads too (:data:`~phasegraph.graph.model.context.SERVED_CAPS`, ...). The owner's
    ``python`` is the runs' interpreter: absolute, or relative to each workspace.
    """

    roots: tuple[Path, ...]
    options: RunOptions = field(default_factory=lambda: RunOptions(on_stop="restore"))
    environ: Mapping[str, str] | None = None
    """The server's environment (default: the process's)."""

    def limits(self) -> dict[str, str]:
        """The environment :func:`served_options` holds a client's options to: the server's,
        with the owner's options as its settings."""
        env = dict(os.environ if self.environ is None else self.environ)
        if self.options.strict:
            env[SERVED_STRICT] = "1"
        for name, setting in SERVED_CAPS.items():
            value = getattr(self.options, name)
            if value != _DEFAULTS[name]:  # the owner set it: that is the cap
                env[setting] = str(value)
        if self.options.allow_hosts:
            env[SERVED_ALLOW_HOSTS] = ",".join(self.options.allow_hosts)
        return env

    def workspace(self, given: object) -> Path:
        """The client's ``workspace`` as the folder a run works in: a string naming an
        existing folder under one of the roots (symlinks and ``..`` resolved). Raises
        :class:`InputRefused` saying why not; nothing was run or written. Blocking (files)."""
        if not isinstance(given, str) or not given.strip():
            raise InputRefused(
                "workspace: give the path of the repository to work in, a folder under "
                f"{self.shown_roots()}"
            )
        if "\x00" in given:
            raise InputRefused(f"workspace {given!r} contains a NUL byte")
        target = Path(given).expanduser().resolve()
        if not any(target.is_relative_to(root) for root in self.roots):
            raise InputRefused(
                f"workspace {given!r} is outside the folders this server may work in "
                f"({self.shown_roots()}); nothing was run. Work in a repository under one of "
                "them, or ask the server's owner to add its folder (phasegraph mcp --root DIR)"
            )
        if not target.is_dir():
            raise InputRefused(
                f"workspace {given!r} is not an existing folder; give the path of a repository"
            )
        return target

    def run_options(self, workspace: Path, given: object) -> RunOptions:
        """The options a client's run goes on with: the owner's, with the client's ``given``
        (a mapping of :data:`CLIENT_OPTIONS`, or ``None``) over them where they tighten.
        Raises :class:`InputRefused` naming the option and why; nothing was run."""
        if given is None:
            given = {}
        if isinstance(given, str):  # small models send objects as JSON text
            try:
                given = json.loads(given)
            except ValueError:
                given = None
        if not isinstance(given, Mapping):
            raise InputRefused(
                f"options must be an object of run options ({', '.join(CLIENT_OPTIONS)}), "
                f"not {type(given).__name__}; leave it out for the server's"
            )
        unknown = sorted(str(k) for k in given if k not in CLIENT_OPTIONS)
        if unknown:
            raise InputRefused(
                f"options: {', '.join(unknown)} may not be set by a client of this server; "
                f"the options a client may set are {', '.join(CLIENT_OPTIONS)}"
            )
        chosen: dict[str, Any] = dict(given)
        if isinstance(chosen.get("allow_hosts"), list):
            chosen["allow_hosts"] = tuple(chosen["allow_hosts"])
        python = chosen.pop("python", None)
        opts = served_options(replace(self.options, **chosen), self.limits())
        if python is None or self._owners_python(workspace, python):
            return opts
        if not isinstance(python, str):
            raise InputRefused(f"context option python: {python!r} is not a path")
        return replace(opts, python=served_python(str(workspace), python))

    def _owners_python(self, workspace: Path, python: object) -> bool:
        """Whether a client's ``python`` names the owner's interpreter (always allowed)."""
        own = self.options.python
        if own is None or not isinstance(python, str) or unexpanded_problem(python):
            return False
        return interpreter_path(workspace, python) == interpreter_path(workspace, own)

    def shown_roots(self) -> str:
        return ", ".join(str(root) for root in self.roots)

    def options_schema(self) -> dict[str, Any]:
        """The JSON schema of the options a client may send, each with the owner's value
        as its default (what a run gets when the client leaves it out)."""
        schema = TypeAdapter(RunOptions).json_schema()
        owner = asdict(self.options)
        properties = {}
        for name in CLIENT_OPTIONS:
            prop = dict(schema["properties"][name])
            value = owner[name]
            prop["default"] = list(value) if isinstance(value, tuple) else value
            properties[name] = prop
        return {
            "type": "object",
            "description": "Run options: each left out is the server's; a client may tighten "
            "the server's guards (stricter, shorter, fewer hosts), never loosen them.",
            "properties": properties,
            "additionalProperties": False,
        }
