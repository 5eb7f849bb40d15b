"""Settings for the inventory, read from a simple key=value text."""

from __future__ import annotations

DEFAULTS = {"warehouse": "main", "reorder_level": "5"}


def load_config(text: str = "") -> dict[str, str]:
    """Parse ``key=value`` lines over the defaults, skipping blanks and # comments."""
    settings = dict(DEFAULTS)
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip()
    return settings
