"""Chat models by name: ``openai:gpt-4.1`` (langchain's ``init_chat_model``), or a model's
name on an OpenAI-compatible server. One maker for the CLI's ``--model`` and a served
run's ``context.model``.

API keys come from this process's environment only, never from a run's input: a served
run names a model, the server's own variables hold the keys, and a client-given base URL
must be one the server's operator listed (:data:`BASE_URLS`), so no client can point the
server's key at a host of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from phasegraph.graph.model.context import RunOptions
from phasegraph.skills.core.errors import PreflightError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

#: Providers whose chat model takes ``max_retries``: set to 0, so phasegraph's own retry
#: (with backoff, counted in the report) is the only one.
_RETRYING_PROVIDERS = frozenset({"openai", "azure_openai", "anthropic"})
_EXTRA_HINT = "pip install 'phasegraph[llm]'"

#: Served, the OpenAI-compatible base URLs a run's context may name (comma-separated);
#: with none listed, a served run may name a provider's model only.
BASE_URLS = "PHASEGRAPH_MODEL_BASE_URLS"

#: How each field is named where the user gave it (the CLI's options by default).
CLI_NAMES: Mapping[str, str] = {
    "model": "--model",
    "base_url": "--base-url",
    "api_key_env": "--api-key-env",
}
CONTEXT_NAMES: Mapping[str, str] = {
    "model": "context.model",
    "base_url": "context.model_base_url",
    "api_key_env": "the key variable",
}


@dataclass(frozen=True)
class ModelSpec:
    """A chat model by name: ``PROVIDER:NAME``, or ``NAME`` on the server at ``base_url``."""

    model: str
    base_url: str | None = None
    #: The environment variable holding the key (default: the provider's own).
    api_key_env: str | None = None


def chat_model(
    spec: ModelSpec, names: Mapping[str, str] = CLI_NAMES, *, served: bool = False
) -> BaseChatModel:
    """The chat model ``spec`` names.

    Raises :class:`PreflightError` (bad input, nothing touched) when it makes no model: a
    missing API key variable, a provider whose package is not installed, a malformed name,
    or, ``served``, a base URL the server does not list in :data:`BASE_URLS`.
    """
    if served and spec.base_url and spec.base_url.rstrip("/") not in _listed_base_urls():
        raise PreflightError(
            f"{names['base_url']} {spec.base_url!r} is not one of this server's model "
            f"endpoints: list it in {BASE_URLS} (comma-separated) in the server's environment "
            "(langgraph.json 'env'), or name a provider's model (e.g. openai:gpt-4.1)"
        )
    key = _api_key(spec.api_key_env, names)
    if spec.base_url:
        return _openai_compatible(spec.model.removeprefix("openai:"), spec.base_url, key, names)
    return _init_chat_model(spec.model, key, names)


def _listed_base_urls() -> set[str]:
    listed = os.environ.get(BASE_URLS, "")
    return {url.strip().rstrip("/") for url in listed.split(",") if url.strip()}


def _api_key(variable: str | None, names: Mapping[str, str]) -> str | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise PreflightError(
            f"{names['api_key_env']} {variable}: that environment variable is not set"
        )
    return value


def _openai_compatible(
    name: str, base_url: str, key: str | None, names: Mapping[str, str]
) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise PreflightError(f"{names['base_url']} needs langchain-openai: {_EXTRA_HINT}") from exc
    # Local servers often need no key, but the client insists on one.
    secret = key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    return ChatOpenAI(model=name, base_url=base_url, api_key=SecretStr(secret), max_retries=0)


def _init_chat_model(spec: str, key: str | None, names: Mapping[str, str]) -> BaseChatModel:
    option = names["model"]
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise PreflightError(
            f"{option} {spec!r}: give PROVIDER:NAME (e.g. openai:gpt-4.1, "
            f"anthropic:claude-sonnet-4-5), or {names['base_url']} for an OpenAI-compatible "
            "server"
        )
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise PreflightError(
            f"{option} {spec}: building a model by name needs langchain: {_EXTRA_HINT} "
            f"(or give {names['base_url']} for an OpenAI-compatible server)"
        ) from exc
    kwargs: dict[str, Any] = {}
    if key is not None:
        kwargs["api_key"] = key
    if provider in _RETRYING_PROVIDERS:
        kwargs["max_retries"] = 0
    try:
        model = init_chat_model(spec, **kwargs)
    except ImportError as exc:  # langchain's message names the package to install
        raise PreflightError(f"{option} {spec}: {exc}") from exc
    except Exception as exc:  # a provider refusing its settings (no API key, bad name)
        raise PreflightError(f"{option} {spec}: {type(exc).__name__}: {exc}") from exc
    from langchain_core.language_models import BaseChatModel as ChatModel  # when used

    if not isinstance(model, ChatModel):
        raise PreflightError(f"{option} {spec}: {type(model).__name__} is not a chat model")
    return model


def model_for(
    built: BaseChatModel | None, options: RunOptions, *, served: bool = False
) -> BaseChatModel | None:
    """The model a run uses: the one the graph was built with, else the one its context
    names (``RunOptions.model``), else none. Raises :class:`PreflightError` for a context
    that names no usable model."""
    if built is not None or not options.model:
        return built
    spec = ModelSpec(options.model, options.model_base_url)
    return chat_model(spec, CONTEXT_NAMES, served=served)
