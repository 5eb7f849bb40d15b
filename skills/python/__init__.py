"""A Python project as the checks see it: its interpreter, pytest's and the checkers' configuration,
how ruff and mypy are invoked there, its source's syntax, its import graph and the tests a
change reaches. Imports ``skills.core`` and ``skills.guards``."""
