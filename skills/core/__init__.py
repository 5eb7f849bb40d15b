"""skills.core."""
