"""The ``--repos`` file: text lines or a YAML/JSON list, each repository once, and every
mistake named by file and line with its fix, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasegraph.campaign.model import RepoEntry
from phasegraph.campaign.repos import load_repos, parse_repos
from phasegraph.skills.core.errors import InputRefused


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(InputRefused) as caught:
        load_repos(path)
    return str(caught.value)


def test_a_text_file_lists_one_url_a_line_with_an_optional_ref_and_comments(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "repos.txt",
        "# the payments team\n"
        "https://git.example/acme/billing.git\n"
        "\n"
        "  https://git.example/acme/ledger.git   release-2.x   # pinned\n"
        "file:///srv/repos/a.git#frag\n",
    )
    assert load_repos(path) == [
        RepoEntry(repo="https://git.example/acme/billing.git", ref="HEAD"),
        RepoEntry(repo="https://git.example/acme/ledger.git", ref="release-2.x"),
        # a '#' inside a URL is no comment
        RepoEntry(repo="file:///srv/repos/a.git#frag"),
    ]


def test_yaml_and_json_list_entries_with_ref_and_push(tmp_path: Path) -> None:
    yaml_path = write(
        tmp_path,
        "repos.yaml",
        "- repo: https://git.example/acme/billing.git\n"
        "  ref: v1.2\n"
        "  push: team/billing-rename\n"
        "- https://git.example/acme/ledger.git\n",
    )
    entries = [
        RepoEntry(
            repo="https://git.example/acme/billing.git", ref="v1.2", push="team/billing-rename"
        ),
        RepoEntry(repo="https://git.example/acme/ledger.git"),
    ]
    assert load_repos(yaml_path) == entries
    as_json = [e.model_dump(exclude_none=True) for e in entries]
    assert load_repos(write(tmp_path, "repos.json", json.dumps(as_json, indent=1))) == entries


def test_a_text_line_with_too_many_words_is_named_by_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "repos.txt", "https://git.example/a.git\nhttps://git.example/b.git main extra\n"
    )
    message = refusal(path)
    assert f"{path}: line 2" in message and "'URL [REF]'" in message and "YAML" in message


def test_yaml_in_a_text_file_is_told_to_be_named_yaml(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "repos.txt", "- repo: https://git.example/a.git\n"))
    assert "line 1" in message and "name the file .yaml" in message


def test_a_repository_listed_twice_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path, "repos.txt", "https://git.example/a.git\n# c\nhttps://git.example/a.git v2\n"
    )
    message = refusal(path)
    assert "line 3" in message and "listed already (line 1)" in message


def test_credentials_in_a_url_are_refused_and_never_shown(tmp_path: Path) -> None:
    path = write(tmp_path, "repos.txt", "https://bob:s3cret-token@git.example/a.git\n")
    message = refusal(path)
    assert "credentials" in message and "line 1" in message
    assert "s3cret-token" not in message


def test_an_entry_without_repo_names_its_line_in_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "repos.yml",
        "- repo: https://git.example/a.git\n- ref: main\n  push: x\n",
    )
    message = refusal(path)
    assert f"{path}: line 2" in message and "repo" in message


def test_a_bad_push_branch_is_refused_with_why(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", "- {repo: 'https://git.example/a.git', push: 'bad..name'}\n")
    message = refusal(path)
    assert "line 1" in message and "push" in message


def test_a_yaml_mapping_instead_of_a_list_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "r.yaml", "repo: https://git.example/a.git\n"))
    assert "must be a list" in message


def test_broken_json_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    assert "not valid JSON" in refusal(write(tmp_path, "r.json", '[{"repo": "x",}]'))
    assert "no repository listed" in refusal(write(tmp_path, "r.txt", "# nothing yet\n\n"))
    assert "cannot read" in refusal(tmp_path / "missing.txt")


def test_a_url_starting_with_a_dash_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "r.txt", "--upload-pack=touch\n"))
    assert "cannot start with '-'" in message


def test_entries_given_in_code_are_checked_alike() -> None:
    assert parse_repos(
        ["https://git.example/a.git", {"repo": "https://git.example/b.git", "ref": "dev"}]
    ) == [
        RepoEntry(repo="https://git.example/a.git"),
        RepoEntry(repo="https://git.example/b.git", ref="dev"),
    ]
    with pytest.raises(InputRefused, match=r"repos\[1\].*listed already \(repos\[0\]\)"):
        parse_repos(["https://git.example/a.git", "https://git.example/a.git"])
