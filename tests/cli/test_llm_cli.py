"""The CLI's LLM options, the approval prompt and the report's model line."""

from __future__ import annotations

import argparse
import importlib.util
import io

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr
from rich.console import Console

from phasegraph.cli.approval import ask_approval
from phasegraph.cli.llm_options import add_llm_arguments, model_from_args
from phasegraph.cli.run_cmd import add_approve_argument
from phasegraph.cli.show import print_report
from phasegraph.graph.model.report import ModelCalls, Report, Usage
from phasegraph.skills.core.errors import PreflightError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_llm_arguments(parser)
    add_approve_argument(parser)
    return parser.parse_args(list(argv))


def test_the_options_parse() -> None:
    args = parse(
        "--request", "rename a to b", "--model", "qwen2.5-coder:7b",
        "--base-url", "http://localhost:11434/v1", "--api-key-env", "MY_KEY", "--approve",
    )  # fmt: skip
    assert (args.request, args.model, args.base_url, args.api_key_env, args.approve) == (
        "rename a to b",
        "qwen2.5-coder:7b",
        "http://localhost:11434/v1",
        "MY_KEY",
        True,
    )
    assert parse().approve is False


def test_no_model_option_means_no_model() -> None:
    assert model_from_args(parse()) is None


def test_a_request_needs_a_model() -> None:
    with pytest.raises(PreflightError, match="--request needs a chat model"):
        model_from_args(parse("--request", "do it"))


def test_base_url_builds_an_openai_compatible_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-local")
    model = model_from_args(
        parse(
            "--model",
            "qwen2.5-coder:7b",
            "--base-url",
            "http://gpu:8000/v1",
            "--api-key-env",
            "MY_KEY",
        )
    )
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "qwen2.5-coder:7b"  # a ':' in a local model's name is kept
    assert model.openai_api_base == "http://gpu:8000/v1"
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == "sk-local"
    assert model.max_retries == 0  # phasegraph's own retry is the only one


def test_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = model_from_args(parse("--model", "llama3", "--base-url", "http://localhost:8080/v1"))
    assert isinstance(model, ChatOpenAI)


def test_an_unset_key_variable_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(
        PreflightError, match="NOT_SET_ANYWHERE: that environment variable is not set"
    ):
        model_from_args(
            parse("--model", "m", "--base-url", "http://x/v1", "--api-key-env", "NOT_SET_ANYWHERE")
        )


def test_provider_and_name_go_through_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = model_from_args(parse("--model", "openai:gpt-test"))
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-test"
    assert model.max_retries == 0


@pytest.mark.parametrize("spec", ["gpt-4.1", ":gpt", "openai:"])
def test_a_model_without_provider_and_name_is_bad_input(spec: str) -> None:
    with pytest.raises(PreflightError, match="give PROVIDER:NAME"):
        model_from_args(parse("--model", spec))


def test_an_unknown_provider_is_bad_input() -> None:
    with pytest.raises(PreflightError, match="--model nosuchprovider:x"):
        model_from_args(parse("--model", "nosuchprovider:x"))


def test_a_provider_whose_package_is_missing_says_what_to_install() -> None:
    if importlib.util.find_spec("langchain_anthropic") is not None:
        pytest.skip("langchain-anthropic is installed here")
    with pytest.raises(PreflightError, match="pip install langchain-anthropic"):
        model_from_args(parse("--model", "anthropic:claude-test"))


ASKED = {
    "kind": "approve_writes",
    "goal": "Greet with hi",
    "writes": [
        {
            "id": "edit",
            "skill": "edit_block",
            "paths": ["lib.py"],
            "args": {"path": "lib.py", "search": "return 'hello '", "replace": "return 'hi '"},
        },
        {
            "id": "notes",
            "skill": "write_file",
            "paths": ["NOTES.md"],
            "content_preview": "# Notes\n",
            "content_lines": 1,
            "content_bytes": 8,
            "content_truncated": False,
            "args": {"path": "NOTES.md", "create_dirs": True},
        },
    ],
    "verifies": ["lint", "tests"],
    "commit": "Greet with hi",
}


def ask(answer: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, object], str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    out = io.StringIO()
    result = ask_approval(Console(file=out, width=120, force_terminal=False), ASKED)
    return result, out.getvalue()


def test_the_prompt_shows_every_write_and_what_follows(monkeypatch: pytest.MonkeyPatch) -> None:
    answer, shown = ask("y\n", monkeypatch)
    assert answer == {"approve": True}
    assert "1. edit  edit_block  lib.py" in shown
    assert "  - return 'hello '" in shown
    assert "  + return 'hi '" in shown
    assert "2. notes  write_file  NOTES.md" in shown
    assert "  + # Notes" in shown
    assert "check with lint, tests; then commit 'Greet with hi'" in shown
    assert "Apply these 2 write(s)?" in shown


def test_no_and_no_answer_both_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ask("n\n", monkeypatch)[0] == {"approve": False, "reason": "declined at the prompt"}
    assert ask("", monkeypatch)[0]["approve"] is False


def test_the_report_shows_model_calls_and_tokens() -> None:
    usage = Usage(
        by_node={
            "planner": ModelCalls(calls=1, input_tokens=1200, output_tokens=150),
            "consolidate": ModelCalls(calls=1, input_tokens=2500, output_tokens=300),
        },
        total=ModelCalls(calls=2, input_tokens=3700, output_tokens=450),
    )
    out = io.StringIO()
    print_report(Console(file=out, width=160), Report(status="completed", usage=usage))
    assert "model: 2 call(s) (planner 1, consolidate 1), 3,700 input + 450 output tokens" in (
        out.getvalue()
    )
