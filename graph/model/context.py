"""Run-time options: the ``context`` a run is given (``context=RunOptions(...)``).

Nodes read them through ``Runtime[RunOptions]``; the LangGraph server publishes them as
the served graphs' context schema. A served run's context comes from a client, so it may
only tighten the guards: :func:`served_options` holds it to what the server's environment
allows (the ``PHASEGRAPH_*`` settings below).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

from phasegraph.skills.base import DEFAULT_STEP_TIMEOUT
from phasegraph.skills.core.errors import InputRefused
from phasegraph.skills.core.text import describe_errors


@with_config(ConfigDict(use_attribute_docstrings=True))  # descriptions for Studio and clients
@dataclass(frozen=True)
class RunOptions:
    """Run-time options, given as ``context=RunOptions(...)`` on invoke/stream."""

    strict: bool = False
    """Any verify failure blocks the commit, even one that was there before the run (served:
    always on where the server sets PHASEGRAPH_STRICT=1)."""
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    """Seconds a single step may take (served: at most the server's
    PHASEGRAPH_MAX_STEP_TIMEOUT, default 600)."""
    retries: int = 3
    """Attempts for a step, or a chat model call, that fails with a transient fault (served:
    at most PHASEGRAPH_MAX_RETRIES, default 3)."""
    plan_attempts: int = 3
    """Answers an LLM planner or consolidator may give until one passes validation (served: at
    most PHASEGRAPH_MAX_PLAN_ATTEMPTS, default 3)."""
    findings_budget: int = 48_000
    """Characters of read output the LLM consolidator sees at most (the rest is cut, noted;
    served: at most PHASEGRAPH_MAX_FINDINGS_BUDGET, default 48000)."""
    model_timeout: float = 300.0
    """Seconds one chat model call may take (served: at most PHASEGRAPH_MAX_MODEL_TIMEOUT,
    default 300)."""
    allow_hosts: tuple[str, ...] = ()
    """Internal hosts fetch_url may reach (names, IPs or networks such as ``10.0.0.0/8``);
    every other loopback, private or link-local address is refused. Served: only hosts the
    server lists in PHASEGRAPH_ALLOW_HOSTS (or fewer)."""
    scrub_env: bool = True
    """Subprocesses (checks, ripgrep) get the environment without secret-named variables.
    Served: off only where the server sets PHASEGRAPH_SCRUB_ENV=0."""
    baseline_cache: bool = True
    """Reuse a verify step's baseline from an earlier run on the very same tree, with the same
    check and tools (``.phasegraph/baselines``); off: every baseline runs."""
    baseline: Literal["auto", "before"] = "auto"
    """When a check's baseline runs. ``before``: every check once on the untouched tree, before
    the first write. ``auto``: so where a model call hides it (an LLM consolidator), and for
    ruff and mypy; a pytest check otherwise lists the tests the writes can reach before them,
    runs once after them, and runs again on the tree as it was before the run (its files put
    back for that moment, journaled) only the tests that did not pass after: a green change
    pays for its suite once."""
    python: str | None = None
    """The project's Python interpreter (or virtualenv folder) checks run with; by default
    the workspace's ``.venv``/``venv``, an active virtualenv inside it, a uv or poetry
    environment, else phasegraph's own (said in the report). Wins over a plan's ``python``.
    Served: inside the workspace (relative to it, no '~' nor '$'), or listed in the server's
    PHASEGRAPH_PYTHONS."""
    model: str | None = None
    """The chat model that plans a ``request`` and turns reads into writes, for a graph built
    without one: ``PROVIDER:NAME`` (e.g. ``openai:gpt-4.1``), or a model's name on the
    OpenAI-compatible server at ``model_base_url``. Its API key comes from the environment
    of the process running the graph (served: the server's), never from the run."""
    model_base_url: str | None = None
    """An OpenAI-compatible endpoint for ``model`` (vLLM, llama.cpp, Ollama's /v1, ...);
    served, it must be listed in the server's PHASEGRAPH_MODEL_BASE_URLS."""
    on_stop: Literal["keep", "restore"] = "keep"
    """What a run that stops after some of its writes landed does with them. ``keep``: they
    stay in the working tree for a person to inspect (``phasegraph undo`` puts them back).
    ``restore``: the tree is put back exactly as it was before the run, from the pre-images
    the writer kept, under the workspace lock, so the same plan (or a corrected one) can run
    again at once: what an agent wants. Either way the report carries the tried ``diff``; the
    user's own uncommitted files are never touched. A served client may set either."""


# What a served client may set: the server's environment says how far its runs may go.

#: ``0`` (or ``false``/``no``/``off``): a served run's context may turn ``scrub_env`` off.
SERVED_SCRUB_ENV = "PHASEGRAPH_SCRUB_ENV"
#: The internal hosts a served run's context may list in ``allow_hosts`` (names, addresses or
#: networks, separated by commas or spaces); a client may list these or fewer, nothing else.
SERVED_ALLOW_HOSTS = "PHASEGRAPH_ALLOW_HOSTS"
#: ``1`` (or ``true``/``yes``/``on``): every served run is strict, whatever its context says.
SERVED_STRICT = "PHASEGRAPH_STRICT"
#: The most a served run's context may ask for, by option (default: the option's default).
SERVED_CAPS: dict[str, str] = {
    "step_timeout": "PHASEGRAPH_MAX_STEP_TIMEOUT",
    "model_timeout": "PHASEGRAPH_MAX_MODEL_TIMEOUT",
    "retries": "PHASEGRAPH_MAX_RETRIES",
    "plan_attempts": "PHASEGRAPH_MAX_PLAN_ATTEMPTS",
    "findings_budget": "PHASEGRAPH_MAX_FINDINGS_BUDGET",
}

_OPTIONS: TypeAdapter[RunOptions] = TypeAdapter(RunOptions)
_DEFAULTS = {f.name: f.default for f in fields(RunOptions) if f.default is not MISSING}
_OFF = {"0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}


def _owner(setting: str) -> str:
    return f"the server's owner sets it with {setting} in the server's environment"


def served_options(given: RunOptions, environ: Mapping[str, str] | None = None) -> RunOptions:
    """The options a served run goes on with: ``given`` (its client's context), typed, held
    to what the server's environment (``environ``, default the process's) allows.

    A client may tighten every guard and loosen none: ``scrub_env`` off needs
    ``PHASEGRAPH_SCRUB_ENV=0``, each ``allow_hosts`` entry must be covered by
    ``PHASEGRAPH_ALLOW_HOSTS``, a timeout, retry count, plan attempts or findings budget
    above its cap (``PHASEGRAPH_MAX_*``, default the option's default) is refused (one left
    at its default is lowered to the cap), and ``PHASEGRAPH_STRICT=1`` makes the run strict.
    Raises :class:`InputRefused` naming the option and the setting. The context's
    ``python`` is checked against the workspace by the planner, ``model_base_url`` against
    ``PHASEGRAPH_MODEL_BASE_URLS`` where the model is built.
    """
    env = os.environ if environ is None else environ
    try:
        opts = _OPTIONS.validate_python(asdict(given))
    except ValidationError as exc:
        raise InputRefused("; ".join(describe_errors(exc, "context option"))) from exc
    changed: dict[str, object] = {}
    if not opts.scrub_env and env.get(SERVED_SCRUB_ENV, "").strip().lower() not in _OFF:
        raise InputRefused(
            "context option scrub_env: a served client may not hand the checks the server's "
            "environment with its secrets; only the server's owner may allow it "
            f"({_owner(f'{SERVED_SCRUB_ENV}=0')})"
        )
    if opts.allow_hosts:
        from phasegraph.skills.guards.net import AllowList  # not on import: it loads httpx

        listed = [h for h in re.split(r"[,\s]+", env.get(SERVED_ALLOW_HOSTS, "")) if h]
        beyond = AllowList.of(listed).beyond(opts.allow_hosts)
        if beyond:
            raise InputRefused(
                f"context option allow_hosts: {', '.join(beyond)} may not be opened to "
                "fetch_url by a served client; the internal hosts a served run may reach are "
                f"the server's owner's to list ({_owner(SERVED_ALLOW_HOSTS)}; a run may then "
                "name those or fewer)"
            )
    if env.get(SERVED_STRICT, "").strip().lower() in _ON and not opts.strict:
        changed["strict"] = True
    for name, setting in SERVED_CAPS.items():
        value = getattr(opts, name)
        if not (math.isfinite(value) and value > 0):
            raise InputRefused(f"context option {name}: {value!r} is not a positive number")
        cap = _cap(name, setting, env)
        if value <= cap:
            continue
        if value == _DEFAULTS[name]:  # what a client that names nothing sends
            changed[name] = type(value)(cap)
            continue
        raise InputRefused(
            f"context option {name}: {value:g} is above this server's cap of {cap:g}; a served "
            f"client may lower it, never raise it ({_owner(f'{setting}=...')})"
        )
    return replace(opts, **changed) if changed else opts  # type: ignore[arg-type]


def positive_number(raw: str) -> float | None:
    """``raw`` (an owner's setting) as a finite number above zero; ``None``: it is not one."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _cap(name: str, setting: str, env: Mapping[str, str]) -> float:
    default = _DEFAULTS[name]
    raw = env.get(setting, "").strip()
    if not raw:
        return float(default)
    cap = positive_number(raw)
    if cap is None:
        raise InputRefused(
            f"the server's {setting}={raw!r} is not a positive number; its owner sets the cap "
            f"of {name} there (default {default:g})"
        )
    return cap
