"""Tests that run the package without importing it by name (a docs page's examples, a command
built at run time) are selected when the code they may run changes, and say why; a test that
only reads its own temporary files or fixture data is not. Real project trees on disk; see
tests/e2e/test_targeted_sound.py for the same through the real graph, pytest and git."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.repos import write

from phasegraph.skills.python.selection import EVERY_FILE, select_tests

PYPROJECT = "[tool.pytest.ini_options]\npythonpath = ['src']\ntestpaths = ['tests']\n"
#: A project whose calc module a test imports (so the graph sees an importer) and whose
#: other module only test_other.py imports: a selection that is not everything.
BASE = {
    "pyproject.toml": PYPROJECT,
    "src/pkg/__init__.py": "",
    "src/pkg/calc.py": "def mul(a: int, b: int) -> int:\n    return a * b\n",
    "src/pkg/other.py": "X = 1\n",
    "docs/index.md": "```python\n>>> from pkg.calc import mul\n>>> mul(2, 3)\n6\n\n```\n",
    "tests/test_calc.py": "from pkg.calc import mul\n\n\ndef test_mul() -> None:\n    pass\n",
    "tests/test_other.py": "from pkg.other import X\n\n\ndef test_x() -> None:\n    pass\n",
}
WRITTEN = "(written: src/pkg/calc.py)"
GLOB_DOCS = "from pathlib import Path\n\nDOCS = Path(__file__).parent.parent / 'docs'\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        write(root, rel, text)
    return root


def module_with(body: str) -> str:
    return f"{body}\n\n\ndef test_it() -> None:\n    pass\n"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (  # doctest over every page: no import of pkg, no page named
            f"import doctest\n{GLOB_DOCS}\n\ndef test_docs():\n"
            "    for page in DOCS.glob('*.md'):\n"
            "        doctest.testfile(str(page), module_relative=False)",
            "reads files at run time (docs/*.md)",
        ),
        (  # code blocks read and run with exec (a dynamic load before: now the read says it)
            f"{GLOB_DOCS}\n\ndef test_docs():\n    for page in sorted(DOCS.rglob('*.md')):\n"
            "        exec(page.read_text().split('```python')[1].split('```')[0], {})",
            "reads files at run time (docs/*.md)",
        ),
        (
            "import os\n\n\ndef test_pages():\n    for root, _, names in os.walk('docs'):\n"
            "        assert names",
            "reads files at run time (docs)",
        ),
        (
            "import glob\n\nPAGES = glob.glob('docs/**/*.md', recursive=True)",
            "reads files at run time (docs/**/*.md)",
        ),
        (
            "import pytest\nfrom pytest_examples import CodeExample, EvalExample, find_examples"
            "\n\n\n@pytest.mark.parametrize('example', find_examples('docs'), ids=str)\n"
            "def test_docs(example: CodeExample, eval_example: EvalExample):\n"
            "    eval_example.run(example)",
            "runs documentation examples (pytest_examples)",
        ),
        (  # the plugin's fixture alone, nothing imported
            "def test_docs(eval_example):\n    eval_example.run_print_check('docs/index.md')",
            "runs code it did not import (the eval_example fixture)",
        ),
        (
            "from mktestdocs import check_md_file\n\n\ndef test_readme():\n"
            "    check_md_file('README.md')",
            "runs documentation examples (mktestdocs)",
        ),
        (
            "import subprocess\n\n\ndef test_cli(cmd=('pkg-cli', '--help')):\n"
            "    subprocess.run(cmd, check=True)",
            "runs a command built at run time (subprocess.run(cmd, check=True))",
        ),
        (
            "from subprocess import run\n\n\ndef test_docs_build():\n"
            "    run(['make', 'doctest'], check=True)",
            "runs 'make' in a subprocess",
        ),
        (
            "def test_plugin(pytester):\n    pytester.makepyfile('import pkg.calc')",
            "runs code it did not import (the pytester fixture)",
        ),
    ],
)
def test_a_test_that_runs_code_it_does_not_import_is_selected_for_any_write(
    tmp_path: Path, body: str, said: str
) -> None:
    repo = tree(tmp_path, {**BASE, "tests/test_docs.py": module_with(body)})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.fallback is None, found.fallback
    assert found.files == ("tests/test_calc.py", "tests/test_docs.py")
    assert found.why["tests/test_docs.py"] == f"{said} {WRITTEN}"
    assert found.left_out == ("tests/test_other.py",)


def test_a_helper_in_the_tests_folder_that_reads_the_docs_counts_for_its_importers(
    tmp_path: Path,
) -> None:
    helper = (
        f"import doctest\n{GLOB_DOCS}\n\ndef run_pages() -> int:\n"
        "    return sum(doctest.testfile(str(p), module_relative=False).failed"
        " for p in DOCS.glob('*.md'))\n"
    )
    repo = tree(
        tmp_path,
        {
            **BASE,
            "tests/docs_helper.py": helper,
            "tests/test_docs.py": module_with("from docs_helper import run_pages"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.files == ("tests/test_calc.py", "tests/test_docs.py")
    assert found.why["tests/test_docs.py"] == (
        f"imports docs_helper, which runs code it did not import (doctest.testfile) {WRITTEN}"
    )


@pytest.mark.parametrize(
    "body",
    [
        # Its own temporary files: the test wrote them.
        "def test_out(tmp_path):\n    (tmp_path / 'out.txt').write_text('x')\n"
        "    assert (tmp_path / 'out.txt').read_text() == 'x'",
        "def test_out(tmp_path):\n    out = tmp_path / 'out'\n    out.mkdir()\n"
        "    assert not list(out.iterdir())\n    assert open(out / 'x', 'w')",
        # A literal name: the graph reads the file names strings mention.
        "def test_readme():\n    assert open('README.md').read()",
        # Fixture data files, which run no code.
        "from pathlib import Path\n\nHERE = Path(__file__).parent\n\n\ndef test_cases():\n"
        "    assert (HERE / 'data' / 'cases.json').read_text()",
        "from pathlib import Path\n\nCASES = sorted(Path(__file__).parent.glob('data/*.json'))",
        # Not reads: a tree walked, a program named, a page opened in a browser.
        "import ast\nimport subprocess\nimport webbrowser\n\n\ndef test_it(url='x'):\n"
        "    assert list(ast.walk(ast.parse('x')))\n"
        "    subprocess.run(['git', 'status'], check=False)\n    webbrowser.open(url)",
    ],
)
def test_a_test_reading_only_its_own_files_is_not_selected_for_any_write(
    tmp_path: Path, body: str
) -> None:
    repo = tree(tmp_path, {**BASE, "tests/test_files.py": module_with(body)})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.fallback is None, found.fallback
    assert found.files == ("tests/test_calc.py",)
    assert found.left_out == ("tests/test_files.py", "tests/test_other.py")


def test_the_packages_own_file_reads_do_not_widen_the_selection(tmp_path: Path) -> None:
    # A module of the package reading its data files: any such file written runs the whole
    # suite (it is not Python), so its reads reach nothing a Python write changes.
    version = (
        "from pathlib import Path\n\n"
        "V = [p.read_text() for p in Path(__file__).parent.glob('*.txt')]\n"
    )
    repo = tree(
        tmp_path,
        {
            **BASE,
            "src/pkg/version.py": version,
            "tests/test_version.py": module_with("from pkg.version import V"),
        },
    )

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.files == ("tests/test_calc.py",)


def test_a_docs_page_written_runs_the_whole_suite_naming_who_reads_it(tmp_path: Path) -> None:
    docs_test = module_with(f"{GLOB_DOCS}PAGES = sorted(DOCS.glob('*.md'))")
    repo = tree(tmp_path, {**BASE, "tests/test_docs.py": docs_test})

    found = select_tests(repo, ["docs/index.md"])

    assert found.files == ()
    assert found.fallback == (
        "the run writes docs/index.md, not Python (any test may read it; tests/test_docs.py "
        "reads files at run time (docs/*.md) (written: docs/index.md)): whole suite"
    )


def test_a_conftest_that_collects_docs_pages_runs_the_whole_suite(tmp_path: Path) -> None:
    # Sybil collects docs/*.md as tests through a hook the conftest assigns, not defines: the
    # selection could list no page, so the whole suite runs. Before, the hook went unseen and
    # only test_calc.py ran.
    sybil = (
        "from sybil import Sybil\nfrom sybil.parsers.markdown import PythonCodeBlockParser\n\n"
        "pytest_collect_file = Sybil(parsers=[PythonCodeBlockParser()], patterns=['*.md'])"
        ".pytest()\n"
    )
    pyproject = "[tool.pytest.ini_options]\npythonpath = ['src']\ntestpaths = ['tests', 'docs']\n"
    repo = tree(tmp_path, {**BASE, "pyproject.toml": pyproject, "docs/conftest.py": sybil})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert found.files == ()
    assert found.fallback == (
        "docs/conftest.py defines pytest_collect_file, and runs documentation examples "
        f"(sybil) {WRITTEN}: whole suite"
    )


def test_when_the_docs_test_makes_every_file_selected_it_is_the_plain_suite(
    tmp_path: Path,
) -> None:
    docs_test = module_with(f"{GLOB_DOCS}PAGES = sorted(DOCS.glob('*.md'))")
    files = {k: v for k, v in BASE.items() if k != "tests/test_other.py"}
    repo = tree(tmp_path, {**files, "tests/test_docs.py": docs_test})

    found = select_tests(repo, ["src/pkg/calc.py"])

    assert (found.files, found.fallback, found.left_out) == ((), EVERY_FILE, ())
    assert found.why == {
        "tests/test_calc.py": f"imports pkg.calc {WRITTEN}",
        "tests/test_docs.py": f"reads files at run time (docs/*.md) {WRITTEN}",
    }
