"""What a run's writes reach: the files that load a written file through the import graph,
or a module the run changes without writing it (one that a written file, or a file the writes
reach, changes when imported), and the chain that says why, in words
(``imports pkg.b, which imports pkg.a (written: src/pkg/a.py)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from phasegraph.skills.python.imports.graph import Hop, ImportGraph

#: Why a module the run does not write counts as written: who changes it, whether that one is
#: written, when (``imported``, or as its tests run), what it does, and why that one counts.
Change = tuple[str, bool, bool, str, str]


def reaching_writes(
    graph: ImportGraph,
    written: Sequence[str],
    own: dict[str, dict[str, Any]],
    everywhere: Callable[[str], bool],
) -> tuple[dict[str, Hop], dict[str, Change]]:
    """The files that reach a written file, or a module the run changes without writing it:
    one that a written file (``own``: its findings as it is now), a file the writes reach, or
    such a module itself, changes when it is imported (or, a test file or conftest.py, as its
    tests run). Each file's first hop (toward a written file where it reaches one), and for
    each such module why it counts."""
    starts = list(written)
    changed: dict[str, Change] = {}
    hops: dict[str, Hop] = {}
    while True:
        hops = graph.reaching(starts) | hops  # the chains found first stay
        found: dict[str, Change] = {}
        for rel in [*starts, *hops]:
            facts = own.get(rel, {}) if rel in written else None
            for target, what, at_import in graph.changes(rel, facts, everywhere=everywhere(rel)):
                if target in written or target in changed or target in found:
                    continue
                since = "" if rel in written else why_reached(rel, hops, changed)
                found[target] = (rel, rel in written, at_import, what, since)
        if not found:
            return hops, changed
        changed |= found
        starts += found


def why_reached(test: str, hops: dict[str, Hop], changed: dict[str, Change]) -> str:
    """``imports pkg.b, which imports pkg.a (written: src/pkg/a.py)``; for a module the run
    changes, ``imports pkg.registry, which pkg/beta.py (written) changes when imported
    (@register('beta') at line 7)``, and why the one that changes it counts (``; pkg/beta.py:
    ...``) when the run does not write it."""
    said: list[str] = []
    here = test
    while here in hops:
        here, label = hops[here]
        said.append(label)
    if here not in changed:
        return f"{', which '.join(said)} (written: {here})"
    by, written, at_import, what, since = changed[here]
    who = f"{by} (written)" if written else by
    when = "when imported" if at_import else "as its tests run"
    tail = f" ({what})" + (f"; {by}: {since}" if since else "")
    if not said:
        return f"{who} changes it {when}{tail}"
    return f"{', which '.join(said)}, which {who} changes {when}{tail}"
