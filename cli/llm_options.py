"""CLI options for the LLM planner: ``--request``, ``--model``, ``--base-url``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from phasegraph.prompts.chat_models import ModelSpec, chat_model
from phasegraph.skills.core.errors import PreflightError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


_EXTRA_HINT = "pip install 'phasegraph[llm]'"


def add_llm_arguments(parser: argparse.ArgumentParser, *, request: bool = True) -> None:
    """Add the model options to ``parser`` (and ``--request``, unless ``request`` is false)."""
    group = parser.add_argument_group("LLM planner")
    if request:
        group.add_argument(
            "--request",
            help="what to do, in plain words; a chat model (--model) writes the plan",
        )
    group.add_argument(
        "--model",
        metavar="PROVIDER:NAME",
        help="the chat model, e.g. openai:gpt-4.1, anthropic:claude-sonnet-4-5, "
        f"ollama:qwen2.5-coder (langchain's init_chat_model: {_EXTRA_HINT}); "
        "with --base-url, the model's name on that server",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="an OpenAI-compatible endpoint (vLLM, llama.cpp, LM Studio, Ollama's /v1, ...)",
    )
    group.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key (default: the provider's own; "
        "OPENAI_API_KEY for --base-url, which may be unset for a local server)",
    )


def model_from_args(args: argparse.Namespace) -> BaseChatModel | None:
    """The chat model the options name (``None`` without ``--model``).

    Raises :class:`PreflightError` (exit 2, nothing touched) when the options
    do not make a model: ``--request`` without ``--model``, a missing API key
    variable, a provider whose package is not installed.
    """
    spec: str | None = getattr(args, "model", None)
    base_url: str | None = getattr(args, "base_url", None)
    if not spec:
        if getattr(args, "request", None):
            raise PreflightError(
                "--request needs a chat model: --model PROVIDER:NAME (e.g. openai:gpt-4.1), "
                "or --model NAME --base-url URL for an OpenAI-compatible server"
            )
        if base_url:
            raise PreflightError("--base-url needs --model NAME (the model's name on that server)")
        return None
    return chat_model(ModelSpec(spec, base_url, getattr(args, "api_key_env", None)))
