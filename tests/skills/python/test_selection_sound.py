"""Targeted tests stay sound: where the import graph cannot see, the selection widens or the
whole suite runs, naming why. Real project trees on disk; see test_e2e's test_targeted_sound
for the same cases through the real graph, pytest and git."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.repos import write

from phasegraph.skills.python.imports.layout import project_layout
from phasegraph.skills.python.imports.scan import parse_source
from phasegraph.skills.python.pytest_config import pytest_config
from phasegraph.skills.python.selection import EVERY_FILE, WHOLE_SUITE, Selection, select_tests

PYPROJECT = "[tool.pytest.ini_options]\npythonpath = ['src']\ntestpaths = ['tests']\n"
CALC = (
    "def add(a: int, b: int) -> int:\n    return a + b\n\n\n"
    "def mul(a: int, b: int) -> int:\n    return a * b\n"
)
BASE = {
    "pyproject.toml": PYPROJECT,
    "src/pkg/__init__.py": "",
    "src/pkg/calc.py": CALC,
    "src/pkg/other.py": "X = 1\n",
    "tests/test_other.py": "from pkg.other import X\n\n\ndef test_x() -> None:\n    assert X\n",
}


#: A test that imports calc: the edited module has an importer the graph sees.
WITH_CALC_TEST = {**BASE, "tests/test_calc.py": "from pkg.calc import add\n"}


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        write(root, rel, text)
    return root


def module_with(body: str) -> str:
    """A test module: ``body`` at its top, one test after it."""
    return f"{body}\n\n\ndef test_it() -> None:\n    pass\n"


def selected(found: Selection) -> tuple[str, ...]:
    """The test files it runs: those listed, or every one (why says each) when every test
    file is reached and it runs as the plain suite."""
    if found.fallback == EVERY_FILE:
        return tuple(sorted(found.why))
    assert found.fallback is None, found.fallback
    return found.files


# Dynamic imports.


def test_a_literal_import_module_in_a_test_is_an_import(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **BASE,
            "tests/test_dyn.py": module_with(
                'import importlib\n\nCALC = importlib.import_module("pkg.calc")'
            ),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_dyn.py",)
    assert found.why["tests/test_dyn.py"] == "imports pkg.calc (written: src/pkg/calc.py)"


#: Computed names: nothing here names the module for the graph to follow.
NAME = "PKG, MOD = 'pkg', 'calc'\n"
FILE = "from pathlib import Path\n\nFILE = Path('src', 'pkg', 'calc' + '.py')\n"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            f"import importlib\n{NAME}M = importlib.import_module(f'{{PKG}}.{{MOD}}')",
            "importlib.import_module at line 3",
        ),
        (
            f"from importlib import import_module as load\n{NAME}M = load(PKG + '.' + MOD)",
            "import_module as load at line 1",
        ),
        (f"{NAME}M = __import__(PKG + '.' + MOD)", "__import__ at line 2"),
        (
            f"import importlib.util\n{FILE}S = importlib.util.spec_from_file_location('c', FILE)",
            "importlib.util.spec_from_file_location at line 5",
        ),
        (f"import runpy\n{FILE}runpy.run_path(str(FILE))", "runpy.run_path at line 5"),
        (f"{FILE}exec(FILE.read_text())", "exec at line 4"),
        (f"import sys\n{FILE}sys.path.insert(0, str(FILE.parent))", "sys.path at line 5"),
        (
            "def test_path(monkeypatch):\n    monkeypatch.syspath_prepend('src')",
            "monkeypatch.syspath_prepend at line 2",
        ),
        (
            f"import subprocess, sys\n{NAME}subprocess.run([sys.executable, '-m', PKG + MOD])",
            "sys.executable at line 3",
        ),
    ],
)
def test_a_test_that_loads_code_dynamically_may_load_any_written_module(
    tmp_path: Path, body: str, said: str
) -> None:
    repo = tree(tmp_path, {**WITH_CALC_TEST, "tests/test_dyn.py": module_with(body)})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/test_dyn.py")
    assert found.why["tests/test_dyn.py"] == (
        f"may load any module ({said}) (written: src/pkg/calc.py)"
    )


@pytest.mark.parametrize(
    "body",
    [
        "import pytest\n\nCALC = pytest.importorskip('pkg.calc')",
        "from importlib import import_module\n\nCALC = import_module('.calc', 'pkg')",
        "CALC = __import__('pkg', fromlist=['calc'])",
    ],
)
def test_other_literal_dynamic_imports_are_imports(tmp_path: Path, body: str) -> None:
    repo = tree(tmp_path, {**BASE, "tests/test_dyn.py": module_with(body)})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_dyn.py",)
    assert found.why["tests/test_dyn.py"].startswith("imports pkg.calc")


def test_a_module_that_does_not_parse_here_may_load_any_module(tmp_path: Path) -> None:
    # Newer syntax than phasegraph's interpreter reads: what it imports is not known.
    repo = tree(
        tmp_path,
        {
            **WITH_CALC_TEST,
            "src/pkg/new.py": "type Pair = tuple[int, int]\nmatch = (\n",
            "tests/test_new.py": module_with("import pkg.new"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/test_new.py")
    assert found.why["tests/test_new.py"] == (
        "imports pkg.new, which may load any module (it does not parse here) "
        "(written: src/pkg/calc.py)"
    )


def test_a_conftest_fixture_that_imports_dynamically_selects_the_tests_under_it(
    tmp_path: Path,
) -> None:
    fixture = (
        "import importlib\n\nimport pytest\n\n\n@pytest.fixture\ndef calc(request):\n"
        "    return importlib.import_module(request.param)\n"
    )
    repo = tree(
        tmp_path,
        {
            **WITH_CALC_TEST,
            "tests/unit/conftest.py": fixture,
            "tests/unit/test_u.py": module_with("X = 1"),
            "tests/test_top.py": module_with("Y = 2"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/unit/test_u.py")
    assert found.why["tests/unit/test_u.py"] == (
        "uses tests/unit/conftest.py, which may load any module (importlib.import_module at "
        "line 8) (written: src/pkg/calc.py)"
    )


def test_a_project_module_that_imports_dynamically_widens_to_the_tests_reaching_it(
    tmp_path: Path,
) -> None:
    registry = "import importlib\n\n\ndef load(name):\n    return importlib.import_module(name)\n"
    repo = tree(
        tmp_path,
        {
            **WITH_CALC_TEST,
            "src/pkg/registry.py": registry,
            "tests/test_registry.py": module_with("from pkg.registry import load"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/test_registry.py")
    assert found.why["tests/test_registry.py"] == (
        "imports pkg.registry, which may load any module (importlib.import_module at line 5) "
        "(written: src/pkg/calc.py)"
    )


def test_sys_path_set_elsewhere_still_resolves_a_plain_import(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **BASE,
            "tools/tool.py": "def run() -> int:\n    return 1\n",
            "tests/conftest.py": "import sys\n\nsys.path.insert(0, 'tools')\n",
            "tests/test_tool.py": module_with("import tool"),
            "tests/test_fine.py": module_with("X = 1"),
        },
    )

    found = select_tests(repo, ["tools/tool.py"])

    # Both tests use the conftest that changes sys.path; test_tool also imports tool, found
    # in whatever folder holds tool.py (pytest's roots and sys.path are not guessed).
    assert selected(found) == ("tests/test_fine.py", "tests/test_other.py", "tests/test_tool.py")
    assert found.why["tests/test_tool.py"] == "imports tool (written: tools/tool.py)"


def test_a_package_init_with_a_module_getattr_may_import_any_of_its_modules(
    tmp_path: Path,
) -> None:
    lazy = (
        "import lazy_loader\n\n"
        "__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, ['calc'])\n"
    )
    repo = tree(
        tmp_path,
        {
            **BASE,
            "src/pkg/__init__.py": lazy,
            "src/other/__init__.py": "",
            "src/other/thing.py": "X = 1\n",
            "tests/test_lazy.py": module_with("import pkg\n\nADD = pkg.calc.add"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert "tests/test_lazy.py" in selected(found)
    assert found.why["tests/test_lazy.py"] == (
        "imports pkg, which may import any module of its package (a module __getattr__) "
        "(written: src/pkg/calc.py)"
    )
    # Not beyond the package.
    assert select_tests(repo, ["src/other/thing.py"]).fallback is not None


def test_a_dotted_string_is_an_import_mock_patch_and_monkeypatch_make(tmp_path: Path) -> None:
    body = "from unittest import mock\n\n\n@mock.patch('pkg.calc.add')\ndef test_p(add):\n    pass"
    repo = tree(tmp_path, {**BASE, "tests/test_patch.py": body})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_patch.py",)
    assert found.why["tests/test_patch.py"] == "names 'pkg.calc.add' (written: src/pkg/calc.py)"


def test_a_test_running_the_projects_script_may_load_any_module(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **WITH_CALC_TEST,
            "pyproject.toml": (
                f"{PYPROJECT}\n[project]\nname = 'pkg'\n\n[project.scripts]\n"
                "calc = 'pkg.calc:main'\n"
            ),
            "tests/test_cli.py": module_with(
                "import subprocess\n\nOUT = subprocess.run(['calc', '2'])"
            ),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/test_cli.py")
    assert "runs the project's script 'calc'" in found.why["tests/test_cli.py"]


# Package mappings, and a written module no test imports.


def test_a_package_dir_mapping_resolves_the_projects_own_imports(tmp_path: Path) -> None:
    pyproject = f"{PYPROJECT}\n[tool.setuptools]\npackage-dir = {{ 'shop' = '.' }}\n"
    repo = tree(
        tmp_path,
        {
            "pyproject.toml": pyproject,
            "__init__.py": "",
            "calc.py": CALC,
            "tests/test_calc.py": module_with("from shop.calc import add"),
            "tests/test_other.py": module_with("X = 1"),
        },
    )

    # The ordinary shape: an edit of a module plus a new test file for it.
    found = select_tests(repo, ["calc.py", "tests/test_calc_more.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/test_calc_more.py")
    assert found.why["tests/test_calc.py"] == "imports shop.calc (written: calc.py)"


def test_a_workspace_that_is_a_package_is_imported_by_its_folders_name(tmp_path: Path) -> None:
    repo = tree(
        tmp_path / "shop",
        {
            "__init__.py": "",
            "calc.py": CALC,
            "tests/__init__.py": "",
            "tests/test_calc.py": module_with("from shop import calc"),
            "tests/test_other.py": module_with("X = 1"),
        },
    )

    found = select_tests(repo, ["calc.py", "tests/test_calc_more.py"])

    assert selected(found) == ("tests/test_calc.py", "tests/test_calc_more.py")


def test_a_written_module_no_other_test_imports_runs_the_whole_suite(tmp_path: Path) -> None:
    # The package lives where nothing says (an install the workspace does not show): the
    # new test file alone would be selected, and the existing importer missed.
    repo = tree(
        tmp_path,
        {
            "calc_impl/calc.py": CALC,
            "tests/test_calc.py": module_with("from shop.calc import add"),
            "tests/test_other.py": module_with("X = 1"),
        },
    )

    found = select_tests(repo, ["calc_impl/calc.py", "tests/test_calc_more.py"])

    assert found.files == ()
    assert found.fallback == (
        "no test file the run does not write imports calc_impl/calc.py: whole suite"
    )


def test_written_modules_count_as_importing_each_other(tmp_path: Path) -> None:
    # The edited calc may import the new helper: its new content is not read (the baseline
    # runs before it exists), so the helper is not taken for a module nothing imports.
    repo = tree(tmp_path, {**BASE, "tests/test_calc.py": module_with("from pkg.calc import add")})

    found = select_tests(repo, ["src/pkg/calc.py", "src/pkg/helpers.py"])

    assert selected(found) == ("tests/test_calc.py",)


def test_a_module_reached_only_by_widening_still_runs_the_whole_suite(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {**BASE, "tests/test_dyn.py": module_with("M = __import__('pkg.' + 'calc')")},
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    # test_dyn may load calc, but no import says so: who else loads it is not known.
    assert found.fallback == (
        "no test file the run does not write imports src/pkg/calc.py: whole suite"
    )


# pytest's configuration: plugins, doctests, other configuration files.


@pytest.mark.parametrize("addopts", ["-p pkg.plugin", "-ra -ppkg.plugin"])
def test_a_plugin_addopts_loads_runs_the_whole_suite(tmp_path: Path, addopts: str) -> None:
    pyproject = f"{PYPROJECT}addopts = '{addopts}'\n"
    repo = tree(
        tmp_path,
        {**BASE, "pyproject.toml": pyproject, "tests/test_calc.py": module_with("import pkg.calc")},
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.files == ()
    assert (
        found.fallback == "addopts in pyproject.toml loads the plugin pkg.plugin (-p): whole suite"
    )


def test_a_plugin_switched_off_is_not_one_loaded(tmp_path: Path) -> None:
    pyproject = f"{PYPROJECT}addopts = '-p no:cacheprovider -pno:randomly'\n"
    repo = tree(
        tmp_path,
        {**BASE, "pyproject.toml": pyproject, "tests/test_calc.py": module_with("import pkg.calc")},
    )

    assert selected(select_tests(repo, ["src/pkg/calc.py"])) == ("tests/test_calc.py",)


def test_a_pytest11_entry_point_of_the_project_runs_the_whole_suite(tmp_path: Path) -> None:
    pyproject = (
        f"{PYPROJECT}\n[project]\nname = 'pkg'\n\n"
        "[project.entry-points.pytest11]\npkg = 'pkg.plugin'\n"
    )
    repo = tree(
        tmp_path,
        {**BASE, "pyproject.toml": pyproject, "tests/test_calc.py": module_with("import pkg.calc")},
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.fallback == (
        "the project registers a pytest plugin (pkg = pkg.plugin, pytest11): whole suite"
    )


def test_doctest_modules_adds_the_written_modules_and_those_reaching_them(tmp_path: Path) -> None:
    pyproject = (
        "[tool.pytest.ini_options]\npythonpath = ['src']\ntestpaths = ['tests', 'src']\n"
        "addopts = '--doctest-modules'\n"
    )
    repo = tree(
        tmp_path,
        {
            **BASE,
            "pyproject.toml": pyproject,
            "src/pkg/uses.py": "from pkg.calc import add\n",
            "src/pkg/__main__.py": "from pkg.calc import add\n",
            "tests/test_calc.py": module_with("from pkg.calc import add"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    # Its own doctests, and those of a module that imports it; __main__ is not collected.
    assert selected(found) == ("src/pkg/calc.py", "src/pkg/uses.py", "tests/test_calc.py")
    assert found.why["src/pkg/calc.py"] == "written by the run"
    assert found.why["src/pkg/uses.py"] == "imports pkg.calc (written: src/pkg/calc.py)"


def test_doctest_modules_outside_the_collected_paths_adds_nothing(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **BASE,
            "pyproject.toml": f"{PYPROJECT}addopts = '--doctest-modules'\n",
            "tests/test_calc.py": module_with("from pkg.calc import add"),
        },
    )

    # testpaths is tests/: the whole suite never collects src/'s doctests either.
    assert selected(select_tests(repo, ["src/pkg/calc.py"])) == ("tests/test_calc.py",)


@pytest.mark.parametrize(
    ("addopts", "doc"),
    [("", "tests/test_usage.txt"), ("--doctest-glob='*.md'", "tests/guide.md")],
)
def test_doctest_text_files_pytest_collects_are_selected(
    tmp_path: Path, addopts: str, doc: str
) -> None:
    repo = tree(
        tmp_path,
        {
            **BASE,
            "pyproject.toml": f'{PYPROJECT}addopts = "{addopts}"\n',
            doc: ">>> from pkg.calc import add\n>>> add(1, 2)\n3\n",
            "tests/test_calc.py": module_with("from pkg.calc import add"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == tuple(sorted([doc, "tests/test_calc.py"]))
    assert found.why[doc] == "a doctest text file: runs its examples (written: src/pkg/calc.py)"


# Files that are not Python.


@pytest.mark.parametrize(
    "data",
    [
        "src/pkg/VERSION",
        "src/pkg/.defaults",
        "tests/data/case_7.json",
        "README.md",
        "src/pkg/calc.pyi",
    ],
)
def test_a_written_file_that_is_not_python_runs_the_whole_suite(tmp_path: Path, data: str) -> None:
    repo = tree(
        tmp_path,
        {
            **BASE,
            "src/pkg/version.py": (
                "from pathlib import Path\n\nV = (Path(__file__).parent / 'VERSION').read_text()\n"
            ),
            "tests/test_cases.py": module_with(
                "from pathlib import Path\n\nCASES = sorted(Path('tests/data').glob('*.json'))"
            ),
            "tests/test_calc.py": module_with("import pkg.calc"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py", data])

    assert found.files == ()
    assert found.fallback == (
        f"the run writes {data}, not Python (any test may read it): whole suite"
    )


# conftest hooks.


def test_a_conftest_with_hooks_reaching_a_write_runs_the_whole_suite(tmp_path: Path) -> None:
    hooks = "import pkg.calc\n\n\ndef pytest_collection_modifyitems(items):\n    pass\n"
    repo = tree(
        tmp_path,
        {
            **BASE,
            "tests/unit/conftest.py": hooks,
            "tests/unit/test_u.py": module_with("X = 1"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.files == ()
    assert found.fallback == (
        "tests/unit/conftest.py defines pytest_collection_modifyitems, and imports pkg.calc "
        "(written: src/pkg/calc.py): whole suite"
    )


def test_a_conftest_with_hooks_above_every_test_keeps_the_selection(tmp_path: Path) -> None:
    hooks = "import pkg.calc\n\n\ndef pytest_collection_modifyitems(items):\n    pass\n"
    repo = tree(tmp_path, {**BASE, "tests/conftest.py": hooks})

    found = select_tests(repo, ["src/pkg/calc.py"])

    # Every test uses it: every test is selected, which is the whole suite anyway.
    assert selected(found) == ("tests/test_other.py",)


# Configuration files.


@pytest.mark.parametrize(
    ("files", "source"),
    [
        (
            {"pyproject.toml": "[tool.pytest]\ntestpaths = ['checks']\naddopts = ['-ra']\n"},
            "pyproject.toml",
        ),
        (
            {
                "pytest.toml": "[pytest]\ntestpaths = ['checks']\n",
                "pytest.ini": "[pytest]\ntestpaths = tests\n",
            },
            "pytest.toml",
        ),
        (
            {".pytest.toml": "[pytest]\ntestpaths = ['checks']\n", "pyproject.toml": PYPROJECT},
            ".pytest.toml",
        ),
        (
            {"pytest.ini": "[pytest]\ntestpaths = checks\n", "pyproject.toml": PYPROJECT},
            "pytest.ini",
        ),
        (
            {
                "tox.ini": "[pytest]\ntestpaths = checks\n",
                "setup.cfg": "[tool:pytest]\ntestpaths = tests\n",
            },
            "tox.ini",
        ),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = checks\n"}, "setup.cfg"),
    ],
)
def test_pytest_config_reads_pytests_files_in_pytests_order(
    tmp_path: Path, files: dict[str, str], source: str
) -> None:
    config = pytest_config(tree(tmp_path, files))

    assert (config.source, config.testpaths, config.problem) == (source, ("checks",), None)


def test_pytest_config_an_empty_pytest_ini_still_wins(tmp_path: Path) -> None:
    config = pytest_config(tree(tmp_path, {"pytest.ini": "", "pyproject.toml": PYPROJECT}))

    assert (config.source, config.testpaths) == ("pytest.ini", ())


def test_pytest_config_the_native_table_gives_addopts_and_pythonpath(tmp_path: Path) -> None:
    pyproject = (
        "[tool.pytest]\ntestpaths = ['tests']\npython_files = ['check_*.py']\n"
        "pythonpath = ['lib']\naddopts = ['--doctest-modules', '-p', 'pkg.plugin']\n"
    )
    config = pytest_config(tree(tmp_path, {"pyproject.toml": pyproject}))

    assert config.python_files == ("check_*.py",)
    assert config.pythonpath == ("lib",)
    assert config.doctest_modules and config.plugins == ("pkg.plugin",)


def test_the_native_table_decides_the_selection(tmp_path: Path) -> None:
    pyproject = "[tool.pytest]\ntestpaths = ['checks']\npython_files = ['check_*.py']\n"
    repo = tree(
        tmp_path,
        {
            **BASE,
            "pyproject.toml": pyproject,
            "checks/check_calc.py": "from pkg.calc import add\n",
            "tests/test_calc.py": module_with("from pkg.calc import add"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert selected(found) == ("checks/check_calc.py",)
    assert found.considered == 1


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {
                "pyproject.toml": (
                    "[tool.pytest]\naddopts = ['-ra']\n\n"
                    "[tool.pytest.ini_options]\naddopts = '-ra'\n"
                )
            },
            "pyproject.toml: both [tool.pytest] and [tool.pytest.ini_options]",
        ),
        (
            {"pytest.toml": "testpaths = ['tests']\n"},
            "pytest.toml: options outside the [pytest] table",
        ),
        (
            {
                "pyproject.toml": "[project]\nname = 'x'\n",
                "setup.cfg": "[pytest]\ntestpaths = tests\n",
            },
            "setup.cfg: a [pytest] section, which pytest refuses",
        ),
    ],
)
def test_a_configuration_pytest_refuses_runs_the_whole_suite(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    repo = tree(tmp_path, {**BASE, **files})

    found = select_tests(repo, ["src/pkg/other.py"])

    assert found.fallback == f"pytest's configuration cannot be read ({problem}): whole suite"


def test_a_configuration_below_the_workspace_runs_the_whole_suite(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **BASE,
            "tests/api/pytest.ini": "[pytest]\naddopts = -p no:warnings\n",
            "tests/api/test_calc.py": module_with("from pkg.calc import add"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    # pytest looks for its configuration from the given files up: tests/api/pytest.ini
    # would configure the targeted run, not the whole suite's.
    assert (
        found.fallback
        == "pytest would read tests/api/pytest.ini for the selected files: whole suite"
    )


@pytest.mark.parametrize("config", ["tests/pytest.ini", "pytest.toml", "sub/pyproject.toml"])
def test_a_written_configuration_file_anywhere_runs_the_whole_suite(
    tmp_path: Path, config: str
) -> None:
    repo = tree(tmp_path, BASE)

    found = select_tests(repo, ["src/pkg/other.py", config])

    assert found.fallback == f"the run writes pytest's configuration ({config}): whole suite"


# Module state one pytest session shares: what a file changes as it is imported.

REGISTRY = (
    "HANDLERS = {}\n\n\ndef register(name):\n    def add(fn):\n        HANDLERS[name] = fn\n"
    "        return fn\n\n    return add\n"
)
BETA = (
    "from pkg.registry import register\n\nBASE = 8\n\n\n"
    "@register('beta')\ndef value():\n    return BASE\n"
)
#: A registry filled by whatever the session imported: its test imports only the registry.
REGISTERED = {
    **BASE,
    "src/pkg/registry.py": REGISTRY,
    "src/pkg/beta.py": BETA,
    "tests/test_beta.py": module_with("from pkg.beta import value"),
    "tests/test_registry.py": (
        "import pytest\n\nfrom pkg.registry import HANDLERS\n\n\n"
        "@pytest.mark.parametrize('name', sorted(HANDLERS))\n"
        "def test_handler(name):\n    assert HANDLERS[name]()\n"
    ),
}


def test_a_written_module_that_registers_itself_selects_the_registrys_tests(
    tmp_path: Path,
) -> None:
    repo = tree(tmp_path, REGISTERED)

    # At the baseline: beta as it is before the edit, which registers it.
    found = select_tests(repo, ["src/pkg/beta.py"])

    assert selected(found) == ("tests/test_beta.py", "tests/test_registry.py")
    assert found.why["tests/test_registry.py"] == (
        "imports pkg.registry, which src/pkg/beta.py (written) changes when imported "
        "(@register('beta') at line 6)"
    )
    # After an edit that unregisters it, beta changes nothing: the check's selection differs
    # from the baseline's (which is why the check runs the baseline's selection too).
    write(repo, "src/pkg/beta.py", BETA.replace("@register('beta')\n", ""))
    assert selected(select_tests(repo, ["src/pkg/beta.py"])) == ("tests/test_beta.py",)


def test_a_written_module_that_fills_a_registry_by_item_selects_its_tests(
    tmp_path: Path,
) -> None:
    filler = "from pkg.registry import HANDLERS\n\nHANDLERS['x'] = lambda: 1\n"
    repo = tree(
        tmp_path,
        {**REGISTERED, "src/pkg/x.py": filler, "tests/test_x.py": module_with("import pkg.x")},
    )

    found = select_tests(repo, ["src/pkg/x.py"])

    # As if the registry were written: test_beta reaches it too (beta registers itself).
    assert selected(found) == ("tests/test_beta.py", "tests/test_registry.py", "tests/test_x.py")
    assert found.why["tests/test_registry.py"] == (
        "imports pkg.registry, which src/pkg/x.py (written) changes when imported "
        "(HANDLERS['x'] = ... at line 3)"
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("import pkg.beta\n\npkg.beta.BASE = 18", "pkg.beta.BASE = ... at line 3"),
        (
            "import pytest\n\nbeta = pytest.importorskip('pkg.beta')\nbeta.BASE = 18",
            "beta.BASE = ... at line 4",
        ),
    ],
)
def test_a_new_test_file_that_sets_a_modules_global_selects_the_tests_that_see_it(
    tmp_path: Path, body: str, said: str
) -> None:
    repo = tree(tmp_path, REGISTERED)
    tuned = module_with(body)

    # Before it is written it changes nothing.
    assert selected(select_tests(repo, ["tests/test_tuned.py"])) == ("tests/test_tuned.py",)
    write(repo, "tests/test_tuned.py", tuned)
    found = select_tests(repo, ["tests/test_tuned.py"])

    # test_beta reaches beta; test_registry calls what beta registered, which reads BASE.
    assert selected(found) == (
        "tests/test_beta.py",
        "tests/test_registry.py",
        "tests/test_tuned.py",
    )
    assert found.why["tests/test_beta.py"] == (
        f"imports pkg.beta, which tests/test_tuned.py (written) changes when imported ({said})"
    )
    assert found.why["tests/test_registry.py"] == (
        "imports pkg.registry, which src/pkg/beta.py changes when imported "
        "(@register('beta') at line 6); src/pkg/beta.py: tests/test_tuned.py (written) "
        f"changes it when imported ({said})"
    )


def test_a_test_that_sets_a_global_in_a_function_selects_the_tests_that_see_it(
    tmp_path: Path,
) -> None:
    leaky = "from pkg import other\n\n\ndef test_leak():\n    other.X += 1\n"
    repo = tree(tmp_path, {**WITH_CALC_TEST, "tests/test_leak.py": leaky})

    found = select_tests(repo, ["tests/test_leak.py"])

    assert selected(found) == ("tests/test_leak.py", "tests/test_other.py")
    assert found.why["tests/test_other.py"] == (
        "imports pkg.other, which tests/test_leak.py (written) changes as its tests run "
        "(other.X += ... at line 5)"
    )


def test_a_module_that_sets_a_global_in_a_function_changes_nothing_as_imported(
    tmp_path: Path,
) -> None:
    # Only a test file's (or conftest's) functions count: a module's run when called, and
    # whoever calls them reaches it.
    setter = "import pkg.other\n\n\ndef bump():\n    pkg.other.X = 2\n"
    repo = tree(
        tmp_path, {**BASE, "src/pkg/setter.py": setter, "tests/test_s.py": "import pkg.setter\n"}
    )

    assert selected(select_tests(repo, ["src/pkg/setter.py"])) == ("tests/test_s.py",)


def test_a_module_that_registers_what_the_write_changes_selects_the_registrys_tests(
    tmp_path: Path,
) -> None:
    # beta is not written, but what it registers calls util, which is.
    beta = BETA.replace("BASE = 8", "from pkg.util import base\n\nBASE = base()")
    repo = tree(
        tmp_path,
        {
            **REGISTERED,
            "src/pkg/util.py": "def base():\n    return 8\n",
            "src/pkg/beta.py": beta,
            "tests/test_util.py": module_with("from pkg.util import base"),
        },
    )

    found = select_tests(repo, ["src/pkg/util.py"])

    assert selected(found) == ("tests/test_beta.py", "tests/test_registry.py", "tests/test_util.py")
    assert found.why["tests/test_registry.py"] == (
        "imports pkg.registry, which src/pkg/beta.py changes when imported "
        "(@register('beta') at line 8); src/pkg/beta.py: imports pkg.util "
        "(written: src/pkg/util.py)"
    )


def test_a_name_another_package_re_exports_changes_the_module_it_comes_from(
    tmp_path: Path,
) -> None:
    repo = tree(
        tmp_path,
        {
            **REGISTERED,
            "src/tools/__init__.py": "from pkg.registry import register\n",
            "src/pkg/beta.py": BETA.replace("from pkg.registry", "from tools"),
        },
    )

    found = select_tests(repo, ["src/pkg/beta.py"])

    assert selected(found) == ("tests/test_beta.py", "tests/test_registry.py")
    assert (
        "which src/pkg/beta.py (written) changes when imported"
        in (found.why["tests/test_registry.py"])
    )


# The parts.


def test_parse_source_records_what_the_graph_cannot_follow() -> None:
    found = parse_source(
        b"import importlib, sys\n"
        b"sys.path.append('x')\n"
        b"M = importlib.import_module('pkg.calc')\n"
        b"N = importlib.import_module(name)\n"
        b"def __getattr__(name):\n    return 1\n"
        b"def pytest_configure(config):\n    pass\n"
    )

    assert ["pkg.calc", [], 0] in found["imports"]
    assert found["dynamic"] == ["sys.path at line 2", "importlib.import_module at line 4"]
    assert found["getattr"] is True
    assert found["hooks"] == ["pytest_configure"]


def test_parse_source_records_what_a_file_changes_in_the_modules_it_imports() -> None:
    found = parse_source(
        b"import pkg.beta\n"
        b"from pkg import registry as reg\n"
        b"from .registry import register\n"
        b"from pkg.star import *\n"
        b"\n"
        b"@register('x')\n"
        b"def value():\n"
        b"    pkg.beta.SEEN = True\n"
        b"pkg.beta.BASE = 18\n"
        b"reg.HANDLERS['y'] = value\n"
        b"del reg.OLD\n"
        b"add_handler(value)\n"
        b"later = lambda: reg.clear()\n"
        b"local = object()\n"
        b"local.x = 1\n"
        b"\n"
        b"def _setup():\n"
        b"    setattr(pkg.beta, 'MODE', 'fast')\n"
        b"_setup()\n"
    )

    assert found["touches"] == [
        ["registry.register", 1, "@register('x') at line 6", True],
        # In a function: counts for a test file or conftest.py only.
        ["pkg.beta.SEEN", 0, "pkg.beta.SEEN = ... at line 8", False],
        ["pkg.beta.BASE", 0, "pkg.beta.BASE = ... at line 9", True],
        ["pkg.registry.HANDLERS", 0, "reg.HANDLERS['y'] = ... at line 10", True],
        ["pkg.registry.OLD", 0, "del reg.OLD at line 11", True],
        ["pkg.star.add_handler", 0, "add_handler(...) at line 12", True],
        ["pkg.beta", 0, "setattr(pkg.beta, 'MODE', 'fast') at line 18", True],
    ]


def test_project_layout_reads_mappings_scripts_and_plugins(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            "pyproject.toml": (
                "[project]\nname = 'x'\n\n[project.scripts]\nx-cli = 'x.cli:main'\n\n"
                "[tool.setuptools]\npackage-dir = { 'x' = '.', 'y' = 'lib/y_impl/' }\n"
            ),
            "setup.cfg": "[options.entry_points]\npytest11 =\n    x = x.plugin\n",
        },
    )

    layout = project_layout(repo, set())

    assert layout.mappings == ((("x",), ""), (("y",), "lib/y_impl"))
    assert layout.scripts == {"x-cli"}
    assert layout.pytest11 == ("x = x.plugin",)


def test_the_whole_suite_constant_still_names_nothing_selected(tmp_path: Path) -> None:
    repo = tree(tmp_path, {**BASE, "src/pkg/unused.py": "Z = 0\n"})

    assert select_tests(repo, ["src/pkg/unused.py"]).fallback == WHOLE_SUITE
