"""Run-time options: the ``context`` a run is given (``context=RunOptions(...)``).

Nodes read them through ``Runtime[RunOptions]``; the LangGraph server publishes them as
the served graphs' context schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ConfigDict, with_config

from phasegraph.skills.base import DEFAULT_STEP_TIMEOUT


@with_config(ConfigDict(use_attribute_docstrings=True))  # descriptions for Studio and clients
@dataclass(frozen=True)
class RunOptions:
    """Run-time options, given as ``context=RunOptions(...)`` on invoke/stream."""

    strict: bool = False
    """Any verify failure blocks the commit, even one that was there before the run."""
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    """Seconds a single step may take."""
    retries: int = 3
    """Attempts for a step, or a chat model call, that fails with a transient fault."""
    plan_attempts: int = 3
    """Answers an LLM planner or consolidator may give until one passes validation."""
    findings_budget: int = 48_000
    """Characters of read output the LLM consolidator sees at most (the rest is cut, noted)."""
    model_timeout: float = 300.0
    """Seconds one chat model call may take."""
    allow_hosts: tuple[str, ...] = ()
    """Internal hosts fetch_url may reach (names, IPs or networks such as ``10.0.0.0/8``);
    every other loopback, private or link-local address is refused."""
    scrub_env: bool = True
    """Subprocesses (checks, ripgrep) get the environment without secret-named variables."""
    baseline_cache: bool = True
    """Reuse a verify step's baseline from an earlier run on the very same tree, with the same
    check and tools (``.phasegraph/baselines``); off: every baseline runs."""
    python: str | None = None
    """The project's Python interpreter (or virtualenv folder) checks run with; by default
    the workspace's ``.venv``/``venv``, an active virtualenv inside it, a uv or poetry
    environment, else phasegraph's own (said in the report). Wins over a plan's ``python``."""
    model: str | None = None
    """The chat model that plans a ``request`` and turns reads into writes, for a graph built
    without one: ``PROVIDER:NAME`` (e.g. ``openai:gpt-4.1``), or a model's name on the
    OpenAI-compatible server at ``model_base_url``. Its API key comes from the environment
    of the process running the graph (served: the server's), never from the run."""
    model_base_url: str | None = None
    """An OpenAI-compatible endpoint for ``model`` (vLLM, llama.cpp, Ollama's /v1, ...);
    served, it must be listed in the server's PHASEGRAPH_MODEL_BASE_URLS."""
