"""skills.python."""
