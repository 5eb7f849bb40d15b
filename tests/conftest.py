"""Shared fixtures: real temporary git repositories and a git-identity-free home."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.postgres import postgres
from support.repos import init_repo, require_program


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Build a real git repo under tmp_path holding ``files``, committed once."""
    counter = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal counter
        counter += 1
        return init_repo(tmp_path / f"repo{counter}", files)

    return make


@pytest.fixture
def no_git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with an empty HOME and no global/system git config: no identity at all."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 for the whole session."""
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="phasegraph-pg-"))
    try:
        with postgres(root) as url:
            yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def remote_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The owner's settings for remote runs on this machine: the bare repositories under
    ``tmp_path/remotes`` may be cloned and pushed to, clones go under ``tmp_path/work``, no
    prepare step; the folder of the remotes."""
    require_program("git")
    remotes = tmp_path / "remotes"
    remotes.mkdir()
    monkeypatch.setenv("PHASEGRAPH_REMOTES", remotes.resolve().as_uri() + "/")
    monkeypatch.setenv("PHASEGRAPH_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("PHASEGRAPH_PREPARE", raising=False)
    monkeypatch.delenv("PHASEGRAPH_PREPARE_ALLOW", raising=False)
    return remotes
