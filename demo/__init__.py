"""The demo: a small sample repository and a rename plan to run on it, offline."""

from __future__ import annotations

import shutil
import subprocess
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from phasegraph.skills.guards.gitrepo import identity_args

DEMO_PLAN: dict[str, Any] = {
    "goal": "Rename load_config to read_config across the inventory package, keeping it green",
    "recipe": {
        "name": "rename",
        "args": {
            "old": "load_config",
            "new": "read_config",
            "defined_in": "inventory/config.py",
        },
    },
}


def prepare_sample_repo(dest: Path) -> Path:
    """Copy the bundled sample repository to ``dest`` and commit it as a fresh git repo."""
    with as_file(files("phasegraph.demo") / "sample_repo") as source:
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    ident = identity_args(dest)

    def git(*args: str) -> None:
        subprocess.run(["git", *ident, *args], cwd=dest, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "Sample inventory package")
    return dest
