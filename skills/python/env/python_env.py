"""The interpreter a check runs with (:class:`PythonEnv`): its path, the source it was found by
(:data:`SOURCES`), and where a virtualenv folder keeps its interpreter.

Finding it is :mod:`phasegraph.skills.python.env.discovery`'s; asking it what it has,
:mod:`phasegraph.skills.python.env.probe`'s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Where each source of an interpreter comes from, in the order they are tried. A nox or tox
#: environment's :attr:`PythonEnv.source` is its folder (``.nox/tests``, ``.tox/py312``).
SOURCES = ("--python", ".venv", "venv", "VIRTUAL_ENV", "uv", "poetry", "nox", "tox", "phasegraph")

#: The folders nox and tox keep their environments in (one sub-folder each), by source.
RUNNER_FOLDERS = {"nox": ".nox", "tox": ".tox"}

_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"


@dataclass(frozen=True)
class PythonEnv:
    """The interpreter checks run with, and where it came from."""

    python: str
    """Absolute path of the interpreter."""
    source: str
    """How it was found: one of :data:`SOURCES`, except for a nox or tox environment, whose
    folder it is (``.nox/tests``, ``.tox/py312``); :attr:`kind` is always one of them."""

    @property
    def kind(self) -> str:
        """The entry of :data:`SOURCES` it was found by (``nox`` for ``.nox/tests``)."""
        for kind, folder in RUNNER_FOLDERS.items():
            if self.source.startswith(folder + "/"):
                return kind
        return self.source

    @property
    def own(self) -> bool:
        """True when this is phasegraph's own interpreter (no project environment was found)."""
        return self.source == "phasegraph"

    @property
    def bin_dir(self) -> Path:
        return Path(self.python).parent

    def project_tool(self, name: str) -> str | None:
        """``name`` from the project environment's scripts folder, if it has it (``None`` in
        phasegraph's own, whose tools are found the usual way)."""
        if self.own:
            return None
        for candidate in (name, f"{name}.exe"):
            path = self.bin_dir / candidate
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
        return None

    def describe(self) -> str:
        """One line for the report: the interpreter and where it came from."""
        where = {
            "--python": "given explicitly",
            ".venv": "the workspace's .venv",
            "venv": "the workspace's venv",
            "VIRTUAL_ENV": "the active virtualenv",
            "uv": "the uv project environment",
            "poetry": "the poetry environment",
            "nox": f"the nox session {self.source}",
            "tox": f"the tox environment {self.source}",
            "phasegraph": "phasegraph's own interpreter: no project environment found "
            "(create .venv in the workspace or pass --python)",
        }.get(self.kind, self.source)
        return f"{self.python} ({where})"

    @classmethod
    def from_dict(cls, raw: Mapping[str, object] | None) -> PythonEnv:
        if not raw or not isinstance(raw.get("python"), str):
            return own_env()
        return cls(python=str(raw["python"]), source=str(raw.get("source") or "--python"))


def own_env() -> PythonEnv:
    return PythonEnv(python=sys.executable, source="phasegraph")


def interpreter_in(folder: Path) -> str | None:
    """The interpreter of the virtualenv at ``folder``, if there is one."""
    for name in (_EXE, "python3"):
        path = folder / _BIN / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.absolute())
    return None
