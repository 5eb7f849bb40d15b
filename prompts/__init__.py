"""Prompts as data files, loaded by name."""
