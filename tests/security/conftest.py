"""Fixtures of the hostile-input suite: the sandbox, and hypothesis kept modest."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings
from support.sandbox import Sandbox, build_sandbox

# No example database (hypothesis keeps only its caches in a self-ignored .hypothesis/),
# and no deadline on a loaded CI machine.
settings.register_profile("security", database=None, deadline=None, max_examples=60)
settings.load_profile("security")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """A fresh workspace with doors out of it, the folder beside it, and their snapshot."""
    return build_sandbox(tmp_path / "box")
