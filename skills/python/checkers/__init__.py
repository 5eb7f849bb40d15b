"""The checkers as the project runs them: how it invokes ruff and mypy (its config, pre-commit,
tox, nox) and which files configure each check."""
