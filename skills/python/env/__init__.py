"""The project's own Python environment: finding its interpreter (.venv, uv, poetry, nox and tox
environments), probing it, and where it imports the project's packages from."""
