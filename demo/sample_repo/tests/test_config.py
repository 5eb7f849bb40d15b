from inventory import load_config


def test_defaults() -> None:
    assert load_config()["warehouse"] == "main"


def test_overrides_and_comments() -> None:
    settings = load_config("warehouse = north  # the new one\n\nreorder_level=2\n")
    assert settings == {"warehouse": "north", "reorder_level": "2"}
