"""nox and tox environments as the project's interpreter, and the guard that the tests import
the project's own packages from the workspace, never a copy installed elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from phasegraph.graph.model.plan import Plan, Step
from phasegraph.graph.preflight.checks import preflight
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.python.env.discovery import find_python_env
from phasegraph.skills.python.env.foreign_imports import foreign_packages
from phasegraph.skills.python.env.probe import probe
from phasegraph.skills.python.env.project_packages import import_path, project_packages
from phasegraph.skills.python.env.python_env import SOURCES, PythonEnv, own_env
from phasegraph.skills.python.env.runner_envs import runner_env
from phasegraph.skills.registry import default_registry

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def env_folder(folder: Path, *, pytest_installed: bool = False, version: str | None = None) -> Path:
    """A virtualenv-shaped folder whose ``bin/python`` is a real interpreter (this one), with
    pytest in its own site-packages and a ``pyvenv.cfg`` version when asked."""
    (folder / "bin").mkdir(parents=True)
    python = folder / "bin" / "python"
    python.symlink_to(sys.executable)
    if pytest_installed:
        (folder / SITE / "pytest").mkdir(parents=True)
        (folder / SITE / "pytest" / "__init__.py").write_text("")
    if version:
        (folder / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}\n")
    return python


def write(root: Path, rel: str, text: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def runs_pytest(python: str | None = None) -> Plan:
    return Plan(goal="g", python=python, steps=[Step(id="t", skill="run_pytest", args={})])


@pytest.fixture(autouse=True)
def _no_active_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)


# Where the interpreter is found.


def test_nox_and_tox_come_after_poetry_and_before_phasegraphs_own() -> None:
    assert SOURCES.index("poetry") < SOURCES.index("nox") < SOURCES.index("tox")
    assert SOURCES.index("tox") < SOURCES.index("phasegraph")


def test_a_nox_session_is_the_interpreter_and_named_by_its_folder(tmp_path: Path) -> None:
    python = env_folder(tmp_path / ".nox" / "tests")
    found = find_python_env(tmp_path, environ={})
    assert found == PythonEnv(str(python), ".nox/tests")
    assert (found.kind, found.own) == ("nox", False)
    assert found.describe() == f"{python} (the nox session .nox/tests)"
    assert PythonEnv.from_dict({"python": found.python, "source": found.source}) == found
    assert found.project_tool("python") == str(python)


def test_a_tox_environment_is_the_interpreter(tmp_path: Path) -> None:
    python = env_folder(tmp_path / ".tox" / "py312")
    env_folder(tmp_path / ".tox" / ".pkg", pytest_installed=True)  # tox's own: never taken
    (tmp_path / ".tox" / "log").mkdir()  # no interpreter: not an environment
    found = find_python_env(tmp_path, environ={})
    assert found == PythonEnv(str(python), ".tox/py312")
    assert found.kind == "tox"
    assert "the tox environment .tox/py312" in found.describe()


def test_the_workspaces_venv_and_uv_come_first(tmp_path: Path) -> None:
    env_folder(tmp_path / ".nox" / "tests", pytest_installed=True)
    (tmp_path / "uv.lock").write_text("version = 1\n")
    uv = env_folder(tmp_path / ".uv-env")
    found = find_python_env(tmp_path, environ={"UV_PROJECT_ENVIRONMENT": ".uv-env"})
    assert found == PythonEnv(str(uv), "uv")
    venv = env_folder(tmp_path / ".venv")
    assert find_python_env(tmp_path, environ={}) == PythonEnv(str(venv), ".venv")


def test_an_environment_with_pytest_comes_first(tmp_path: Path) -> None:
    env_folder(tmp_path / ".nox" / "tests", version="3.13.1")  # no pytest in it
    env_folder(tmp_path / ".tox" / "lint", pytest_installed=True, version="3.10.2")
    assert runner_env(tmp_path) == PythonEnv(
        str(tmp_path / ".tox" / "lint" / "bin" / "python"), ".tox/lint"
    )


def test_then_one_whose_name_says_it_runs_the_tests(tmp_path: Path) -> None:
    for name in ("docs", "lint", "mypy", "pylint"):
        env_folder(tmp_path / ".nox" / name, pytest_installed=True, version="3.13.0")
    env_folder(tmp_path / ".nox" / "unit-tests", pytest_installed=True, version="3.11.0")
    assert runner_env(tmp_path) == PythonEnv(
        str(tmp_path / ".nox" / "unit-tests" / "bin" / "python"), ".nox/unit-tests"
    )


@pytest.mark.parametrize(
    "name", ["tests", "test", "pytest", "tests-3-12", "py", "py312", "py3.12-django42", "pypy3"]
)
def test_names_that_run_the_tests(tmp_path: Path, name: str) -> None:
    env_folder(tmp_path / ".tox" / "lint", pytest_installed=True)
    env_folder(tmp_path / ".tox" / name, pytest_installed=True)
    found = runner_env(tmp_path)
    assert found is not None and found.source == f".tox/{name}"


def test_then_the_newest_python_then_the_name(tmp_path: Path) -> None:
    env_folder(tmp_path / ".tox" / "py310", pytest_installed=True, version="3.10.14")
    env_folder(tmp_path / ".tox" / "py312", pytest_installed=True, version="3.12.3")
    (tmp_path / ".tox" / "py39").mkdir()
    env_folder(tmp_path / ".tox" / "py39" / "unknown")  # not an environment of tox's
    env_folder(tmp_path / ".tox" / "py311", pytest_installed=True)  # no version: last
    found = runner_env(tmp_path)
    assert found is not None and found.source == ".tox/py312"
    # virtualenv writes version_info; the same version: the name decides, nox's first.
    env_folder(tmp_path / ".nox" / "tests", pytest_installed=True)
    (tmp_path / ".nox" / "tests" / "pyvenv.cfg").write_text("version_info = 3.12.3.final.0\n")
    found = runner_env(tmp_path)
    assert found is not None and found.source == ".nox/tests"


def test_nothing_found_is_still_phasegraphs_own(tmp_path: Path) -> None:
    (tmp_path / ".nox").mkdir()
    (tmp_path / ".tox" / "py312").mkdir(parents=True)
    assert runner_env(tmp_path) is None
    assert find_python_env(tmp_path, environ={}) == own_env()


# The project's own packages, and where the interpreter imports them from.


def test_the_projects_packages_are_its_folders_at_the_top_and_under_src(tmp_path: Path) -> None:
    write(tmp_path, "app/__init__.py")
    write(tmp_path, "src/tenacity/__init__.py")
    write(tmp_path, "src/single.py")
    write(tmp_path, "src/data/readme.txt")  # no __init__.py: not counted
    write(tmp_path, "docs/conf.py")
    write(tmp_path, "setup.py")  # a top-level module is not counted
    write(tmp_path, "my-tool/__init__.py")  # not a name Python can import
    write(tmp_path, "class/__init__.py")
    write(tmp_path, ".nox/tests/__init__.py")
    assert project_packages(tmp_path) == {
        "app": ["app"],
        "single": ["src/single.py"],
        "tenacity": ["src/tenacity"],
    }


def test_a_workspace_that_is_a_package_has_no_top_level_folders(tmp_path: Path) -> None:
    # phasegraph's own layout: the root is the package, its folders are its sub-packages.
    write(tmp_path, "__init__.py")
    write(tmp_path, "graph/__init__.py")
    assert project_packages(tmp_path) == {}
    # A src/ that is itself a package is one package, named src.
    write(tmp_path / "other", "src/__init__.py")
    write(tmp_path / "other", "src/inner/__init__.py")
    assert project_packages(tmp_path / "other") == {"src": ["src"]}


def test_the_import_path_is_pytests_pythonpath_then_the_workspace_then_pythonpath(
    tmp_path: Path,
) -> None:
    write(tmp_path, "pyproject.toml", "[tool.pytest.ini_options]\npythonpath = ['src', 'lib']\n")
    assert import_path(tmp_path, {"PYTHONPATH": "/opt/extra::vendor"}) == [
        str(tmp_path / "src"),
        str(tmp_path / "lib"),
        str(tmp_path),
        "/opt/extra",
        str(tmp_path / "vendor"),
    ]


def test_a_package_installed_beside_phasegraph_is_foreign(tmp_path: Path) -> None:
    write(tmp_path, "src/tenacity/__init__.py")
    write(tmp_path, "pkg/__init__.py")
    write(tmp_path, "src/nowhere_to_be_found/__init__.py")
    found = probe(own_env(), tmp_path)
    assert found.located["pkg"] == str(tmp_path / "pkg" / "__init__.py")
    assert found.located["nowhere_to_be_found"] is None  # the tests will say so
    import tenacity  # what phasegraph's interpreter imports under that name

    assert found.located["tenacity"] == tenacity.__file__
    [foreign] = foreign_packages(tmp_path, found)
    assert (foreign.name, foreign.origin) == ("tenacity", tenacity.__file__)
    assert foreign.defined == ("src/tenacity",) and foreign.installed_here
    # Without a workspace the probe is the same one, asked nothing more.
    assert probe(own_env()).located == {} and probe(own_env()).version == found.version


def test_pytests_pythonpath_makes_the_workspaces_copy_the_one_imported(tmp_path: Path) -> None:
    write(tmp_path, "src/tenacity/__init__.py")
    write(tmp_path, "pytest.ini", "[pytest]\npythonpath = src\n")
    found = probe(own_env(), tmp_path)
    assert found.located["tenacity"] == str(tmp_path / "src" / "tenacity" / "__init__.py")
    assert foreign_packages(tmp_path, found) == []


def test_a_copy_in_a_site_packages_inside_the_workspace_is_foreign(tmp_path: Path) -> None:
    # A non-editable install into an environment kept in the workspace (tox's default):
    # inside the workspace, and still not the project's source.
    write(tmp_path, "src/greeting/__init__.py")
    site = f".tox/py/{SITE}"
    write(tmp_path, f"{site}/greeting/__init__.py")
    found = probe(own_env(), tmp_path, {"PYTHONPATH": site})
    assert found.located["greeting"] == str(tmp_path / site / "greeting" / "__init__.py")
    [foreign] = foreign_packages(tmp_path, found)
    assert foreign.name == "greeting" and not foreign.installed_here


# Preflight: a plan that runs the project's code stops before anything runs.


def test_preflight_refuses_a_plan_whose_tests_would_import_an_installed_copy(
    tmp_path: Path,
) -> None:
    write(tmp_path, "src/tenacity/__init__.py")
    import tenacity

    with pytest.raises(PreflightError) as raised:
        preflight(runs_pytest(), default_registry(), tmp_path)
    message = str(raised.value)
    assert "phasegraph's own interpreter" in message
    assert (
        f"  - tenacity: from {tenacity.__file__} (installed beside phasegraph), not from the "
        "workspace's src/tenacity"
    ) in message
    assert "python -m venv .venv" in message and "--python" in message
    assert 'pythonpath = ["src"]' in message
    # A plan that does not run the project's code is not concerned.
    lint = Plan(goal="g", steps=[Step(id="l", skill="run_ruff", args={})])
    assert preflight(lint, default_registry(), tmp_path).python.own


def test_preflight_names_the_fix_in_a_found_environment(tmp_path: Path) -> None:
    # The tox environment imports the package from its own site-packages: not editable.
    write(tmp_path, "src/greeting/__init__.py")
    env_folder(tmp_path / ".tox" / "py")
    site = f".tox/py/{SITE}"
    write(tmp_path, f"{site}/greeting/__init__.py")
    plan = runs_pytest()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(tmp_path / site))
        with pytest.raises(PreflightError) as raised:
            preflight(plan, default_registry(), tmp_path)
    message = str(raised.value)
    python = tmp_path / ".tox" / "py" / "bin" / "python"
    assert f"{python} (the tox environment .tox/py) imports the project's own" in message
    assert f"  - greeting: from {tmp_path / site / 'greeting' / '__init__.py'}" in message
    assert f"{python} -m pip install -e . (tox: package = editable)" in message


def test_preflight_passes_a_project_whose_packages_come_from_the_workspace(
    tmp_path: Path,
) -> None:
    # The repository's own tests run phasegraph's interpreter on generated projects like this.
    write(tmp_path, "pkg/__init__.py")
    write(tmp_path, "tests/test_pkg.py", "import pkg\n")
    assert preflight(runs_pytest(), default_registry(), tmp_path).python.own
