"""Short text for summaries and messages: one clipper, one pluraliser, one pydantic format."""

from __future__ import annotations

import re

from pydantic import ValidationError

#: Longest one-line summary a step, a check or a tool returns.
SUMMARY_MAX = 200

_SPACE = re.compile(r"\s+")


def clip(text: str, limit: int = SUMMARY_MAX) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis marks the cut)."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def plural(count: int, word: str) -> str:
    """``1 file``, ``2 files``, ``3 matches``."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word}{'es' if word.endswith(('ch', 'sh', 's', 'x')) else 's'}"


def describe_errors(exc: ValidationError, where: str = "") -> list[str]:
    """A pydantic error as one line per problem: ``where: field.path: message``."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        if where:
            out.append(f"{where}{': ' + loc if loc else ''}: {msg}")
        else:
            out.append(f"{loc or 'input'}: {msg}")
    return out
