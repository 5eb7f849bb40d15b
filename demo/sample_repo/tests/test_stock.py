import pytest

from inventory.stock import Stock, stock_from_text


def test_add_and_remove() -> None:
    stock = Stock()
    stock.add("bolt", 10)
    stock.remove("bolt", 4)
    assert stock.levels == {"bolt": 6}


def test_cannot_remove_more_than_on_hand() -> None:
    stock = Stock()
    stock.add("nut", 1)
    with pytest.raises(ValueError, match="only 1 of nut"):
        stock.remove("nut", 2)


def test_reorder_uses_settings() -> None:
    stock = stock_from_text("reorder_level=3")
    stock.add("washer", 2)
    stock.add("screw", 9)
    assert stock.to_reorder() == ["washer"]
