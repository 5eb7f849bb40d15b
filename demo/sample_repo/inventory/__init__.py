"""A tiny stock-keeping package."""

from inventory.config import load_config
from inventory.stock import Stock

__all__ = ["Stock", "load_config"]
