"""Stock levels and what needs reordering."""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.config import load_config


@dataclass
class Stock:
    """Quantities on hand, by item name."""

    levels: dict[str, int] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=load_config)

    def add(self, item: str, quantity: int) -> None:
        if quantity < 0:
            raise ValueError("quantity must not be negative")
        self.levels[item] = self.levels.get(item, 0) + quantity

    def remove(self, item: str, quantity: int) -> None:
        have = self.levels.get(item, 0)
        if quantity > have:
            raise ValueError(f"only {have} of {item} in stock")
        self.levels[item] = have - quantity

    def to_reorder(self) -> list[str]:
        level = int(self.settings["reorder_level"])
        return sorted(item for item, qty in self.levels.items() if qty < level)


def stock_from_text(text: str) -> Stock:
    """A stock whose settings come from ``text`` (see load_config)."""
    return Stock(settings=load_config(text))
