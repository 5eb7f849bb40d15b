"""What each of the project's files loads and changes when it runs, read with :mod:`ast`
(nothing is imported): a file's findings (:func:`parse_source`), and :func:`parse_all`, the
findings of many files, cached by each file's content (its sha256) in the run's cache folder.

The findings are what the import graph (:mod:`phasegraph.skills.python.imports.graph`) is built
from: what a file loads (:mod:`phasegraph.skills.python.imports.loads`), what it changes in the
modules it imports (:mod:`phasegraph.skills.python.imports.changes`), what it reads or runs at run
time (:mod:`phasegraph.skills.python.imports.runtime_reads`).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from phasegraph.skills.guards.workspace import atomic_write
from phasegraph.skills.python.imports.changes import touches
from phasegraph.skills.python.imports.loads import module_loads
from phasegraph.skills.python.imports.runtime_reads import runtime_reads

_CACHE_VERSION = 4


def parse_all(workspace: Path, files: list[str], cache: Path | None) -> dict[str, dict[str, Any]]:
    """What each file loads, from the cache when its content is known."""
    kept = _load_cache(cache)
    fresh: dict[str, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for rel in files:
        try:
            data = (workspace / rel).read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest()
        found = kept.get(digest)
        if found is None:
            found = parse_source(data)
        fresh[digest] = found
        out[rel] = found
    if cache is not None and fresh != kept:
        blob = json.dumps({"version": _CACHE_VERSION, "files": fresh}, sort_keys=True).encode()
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            atomic_write(cache / "imports.json", blob)
    return out


def _load_cache(cache: Path | None) -> dict[str, dict[str, Any]]:
    if cache is None:
        return {}
    try:
        found = json.loads((cache / "imports.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or found.get("version") != _CACHE_VERSION:
        return {}
    files = found.get("files")
    return files if isinstance(files, dict) else {}


def parse_source(data: bytes) -> dict[str, Any]:
    """What a module loads, as far as its source says:

    - ``imports``: ``[module, names, level]`` (``pytest_plugins`` and literal
      ``import_module`` / ``__import__`` / ``importorskip`` names included);
    - ``names``: the file names its strings mention; ``dotted``: its dotted strings
      (``pkg.calc.add``), which ``mock.patch`` and the like import;
    - ``dynamic``: what loads code the graph cannot follow (``importlib.import_module at
      line 3``); ``programs``: the commands it names (the first word of a command);
    - ``getattr``: whether it has a module ``__getattr__``; ``hooks``: the pytest hooks it
      defines (and ``pytest_plugins``);
    - ``touches``: what it changes in the modules it imports
      (:func:`~phasegraph.skills.python.imports.changes.touches`);
    - ``reads``: what it reads or runs at run time that its imports do not say
      (:func:`~phasegraph.skills.python.imports.runtime_reads.runtime_reads`);
    - ``error`` when it does not parse.
    """
    try:
        module = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError) as exc:
        return {"imports": [], "names": [], "error": f"{type(exc).__name__}: {exc}"}
    nodes = list(ast.walk(module))
    return {
        **module_loads(module, nodes),
        "touches": touches(module, nodes),
        "reads": runtime_reads(module, nodes),
    }
