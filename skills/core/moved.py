"""Old import paths kept working, with a ``DeprecationWarning`` naming the new one."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def forwarder(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the shim at ``old``: every name is read from ``new``."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        warnings.warn(
            f"{old} moved to {new} (phasegraph 0.2); import {name} from there, or from "
            "phasegraph where it is public",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new), name)

    return __getattr__
