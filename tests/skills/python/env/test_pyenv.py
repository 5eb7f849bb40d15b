"""Finding the workspace's own interpreter, in the documented order, and asking it about itself."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from phasegraph.graph.model.plan import Plan, Step
from phasegraph.graph.preflight.checks import preflight
from phasegraph.skills.core.errors import PreflightError, PythonEnvError
from phasegraph.skills.python.env.discovery import find_python_env
from phasegraph.skills.python.env.foreign_imports import declared_names, foreign_plugins
from phasegraph.skills.python.env.probe import probe
from phasegraph.skills.python.env.python_env import PythonEnv, own_env
from phasegraph.skills.registry import default_registry


def fake_venv(folder: Path) -> Path:
    """A virtualenv-shaped folder whose ``bin/python`` is a real interpreter (this one)."""
    (folder / "bin").mkdir(parents=True)
    python = folder / "bin" / "python"
    python.symlink_to(sys.executable)
    return python


def test_with_nothing_found_it_is_phasegraphs_own_interpreter(tmp_path: Path) -> None:
    found = find_python_env(tmp_path, environ={})
    assert found == own_env()
    assert found.own and found.source == "phasegraph"
    assert "no project environment found" in found.describe()


def test_dot_venv_comes_before_venv(tmp_path: Path) -> None:
    plain = fake_venv(tmp_path / "venv")
    assert find_python_env(tmp_path, environ={}) == PythonEnv(str(plain), "venv")
    dotted = fake_venv(tmp_path / ".venv")
    assert find_python_env(tmp_path, environ={}) == PythonEnv(str(dotted), ".venv")


def test_an_active_virtualenv_counts_only_inside_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    inside = fake_venv(workspace / "envs" / "dev")
    outside = tmp_path / "elsewhere"
    fake_venv(outside)
    assert find_python_env(workspace, environ={"VIRTUAL_ENV": str(outside)}).own
    found = find_python_env(workspace, environ={"VIRTUAL_ENV": str(workspace / "envs" / "dev")})
    assert found == PythonEnv(str(inside), "VIRTUAL_ENV")


def test_a_uv_project_environment_that_exists_is_used(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\n")
    python = fake_venv(tmp_path / ".uv-env")
    found = find_python_env(tmp_path, environ={"UV_PROJECT_ENVIRONMENT": ".uv-env"})
    assert found == PythonEnv(str(python), "uv")
    # Nothing is created for one that does not exist.
    assert find_python_env(tmp_path, environ={"UV_PROJECT_ENVIRONMENT": ".missing"}).own
    assert not (tmp_path / ".missing").exists()


def test_an_explicit_interpreter_wins_and_may_be_a_venv_folder(tmp_path: Path) -> None:
    fake_venv(tmp_path / ".venv")
    mine = fake_venv(tmp_path / "tools" / "py311")
    assert find_python_env(tmp_path, "tools/py311", environ={}) == PythonEnv(str(mine), "--python")
    assert find_python_env(tmp_path, str(mine), environ={}).python == str(mine)
    with pytest.raises(PythonEnvError, match="'nope/bin/python' does not exist"):
        find_python_env(tmp_path, "nope/bin/python", environ={})


def test_the_probe_reports_version_and_tools(tmp_path: Path) -> None:
    found = probe(PythonEnv(str(fake_venv(tmp_path / ".venv")), ".venv"))
    assert found.version == ".".join(map(str, sys.version_info[:3]))
    assert found.has("pytest")  # this interpreter is phasegraph's, which has pytest


def test_a_program_that_is_not_python_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    with pytest.raises(PythonEnvError, match="did not run as a Python interpreter"):
        probe(PythonEnv(str(script), "--python"))


def test_only_plugins_the_project_names_stay_in_phasegraphs_interpreter(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.txt").write_text("Hypothesis>=6\n")
    assert "hypothesis" in declared_names(tmp_path)
    off = foreign_plugins(own_env(), tmp_path)
    assert "langsmith_plugin" in off and "asyncio" in off
    assert "hypothesispytest" not in off
    # In the project's own interpreter nothing is switched off.
    assert foreign_plugins(PythonEnv(str(fake_venv(tmp_path / ".venv")), ".venv"), tmp_path) == []


def test_preflight_takes_the_option_over_the_plans_python(tmp_path: Path) -> None:
    registry = default_registry()
    from_plan = fake_venv(tmp_path / "plan-env")
    from_option = fake_venv(tmp_path / "option-env")
    plan = Plan(goal="g", python="plan-env", steps=[Step(id="t", skill="run_pytest", args={})])
    assert preflight(plan, registry, tmp_path).python.python == str(from_plan)
    chosen = preflight(plan, registry, tmp_path, python=str(from_option)).python
    assert chosen.python == str(from_option)
    with pytest.raises(PreflightError, match="does not exist or cannot be run"):
        preflight(plan.model_copy(update={"python": "gone"}), registry, tmp_path)
    # A plan may not point at an interpreter outside the workspace; the operator may.
    outside = plan.model_copy(update={"python": str(from_option)})
    with pytest.raises(PreflightError, match="a plan names the project's interpreter inside"):
        preflight(outside, registry, tmp_path)
    assert preflight(outside, registry, tmp_path, python=str(from_plan)).python.python == str(
        from_plan
    )
