"""CLI options for the LLM planner: ``--request``, ``--model``, ``--base-url``, ``--approve``."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from phasegraph.skills.errors import PreflightError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


#: Providers whose chat model takes ``max_retries``: set to 0, so phasegraph's own retry
#: (with backoff, counted in the report) is the only one.
_RETRYING_PROVIDERS = frozenset({"openai", "azure_openai", "anthropic"})
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
    group.add_argument(
        "--approve",
        action="store_true",
        help="show every write once the plan is final and ask before the first one",
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
    key = _api_key(getattr(args, "api_key_env", None))
    if base_url:
        return _openai_compatible(spec.removeprefix("openai:"), base_url, key)
    return _init_chat_model(spec, key)


def _api_key(variable: str | None) -> str | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise PreflightError(f"--api-key-env {variable}: that environment variable is not set")
    return value


def _openai_compatible(name: str, base_url: str, key: str | None) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise PreflightError(f"--base-url needs langchain-openai: {_EXTRA_HINT}") from exc
    # Local servers often need no key, but the client insists on one.
    secret = key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    return ChatOpenAI(model=name, base_url=base_url, api_key=SecretStr(secret), max_retries=0)


def _init_chat_model(spec: str, key: str | None) -> BaseChatModel:
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise PreflightError(
            f"--model {spec!r}: give PROVIDER:NAME (e.g. openai:gpt-4.1, "
            "anthropic:claude-sonnet-4-5), or --base-url for an OpenAI-compatible server"
        )
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise PreflightError(
            f"--model {spec}: building a model by name needs langchain: {_EXTRA_HINT} "
            "(or give --base-url for an OpenAI-compatible server)"
        ) from exc
    kwargs: dict[str, Any] = {}
    if key is not None:
        kwargs["api_key"] = key
    if provider in _RETRYING_PROVIDERS:
        kwargs["max_retries"] = 0
    try:
        model = init_chat_model(spec, **kwargs)
    except ImportError as exc:  # langchain's message names the package to install
        raise PreflightError(f"--model {spec}: {exc}") from exc
    except Exception as exc:  # a provider refusing its settings (no API key, bad name)
        raise PreflightError(f"--model {spec}: {type(exc).__name__}: {exc}") from exc
    from langchain_core.language_models import BaseChatModel as ChatModel  # when used

    if not isinstance(model, ChatModel):
        raise PreflightError(f"--model {spec}: {type(model).__name__} is not a chat model")
    return model
