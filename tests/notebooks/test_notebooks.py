"""The notebooks in notebooks/ run top to bottom in a real Jupyter kernel, and ship clean."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from support.repos import require_program

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "phasegraph-tests"
CELL_TIMEOUT = 120


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernel spec running this interpreter (the project's venv), found before any other.

    Nothing is installed by hand or into the user's Jupyter folders: the spec, the
    runtime files and IPython's profile all live in a temporary directory.
    """
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "phasegraph tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PATH", str(home / "data"))
        env.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        env.setenv("IPYTHONDIR", str(home / "ipython"))
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")
        yield KERNEL


def read_notebook(path: Path) -> NotebookNode:
    """``nbformat.read(path, as_version=4)``; nbformat.read itself has no annotations."""
    read = cast(Callable[[Path, int], NotebookNode], nbformat.read)
    return read(path, 4)


def execute(path: Path, kernel: str, cwd: Path) -> str:
    """Run every cell of ``path``; return the text of all its outputs, in order."""
    for program in ("git", "rg", "ruff", "mypy"):
        require_program(program)
    book = read_notebook(path)
    NotebookClient(
        book,
        kernel_name=kernel,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    texts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            data = output.get("data", {})
            texts.append(data.get("text/markdown", "") or data.get("text/plain", ""))
    return "\n".join(texts)


def test_there_are_the_three_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_failure_and_recovery.ipynb",
        "03_custom_skills.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    book = read_notebook(path)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell still has outputs; clear them"
            assert cell.execution_count is None, f"{path.name}: clear the execution counts"


def test_quickstart_runs_the_demo_to_a_commit_and_draws_both_graphs(
    kernel: str, tmp_path: Path
) -> None:
    out = execute(ROOT / "notebooks" / "01_quickstart.ipynb", kernel, tmp_path)
    assert out.count("```mermaid") == 3  # the graph, the plan before the run and after it
    assert "writer" in out and "apply_write" in out
    assert "edits from the reads" in out
    assert "| find-usages | read | **done** |" in out
    assert "run completed - commit " in out
    assert "git revert --no-edit" in out


def test_failure_and_recovery_stops_undoes_travels_back_and_commits(
    kernel: str, tmp_path: Path
) -> None:
    out = execute(ROOT / "notebooks" / "02_failure_and_recovery.ipynb", kernel, tmp_path)
    assert "status: stopped   failed step: None   kind: preflight" in out
    assert "step 'warehouse' (on inventory/config.py as the plan's earlier writes" in out
    assert "status: stopped   failed step: warehouse   kind: skill" in out
    assert "status: stopped   failed step: tests   kind: gate" in out
    assert "test_overrides_and_comments" in out
    assert out.count("git status: clean") == 2
    assert "next=['writer']" in out
    assert "status: completed   failed step: None" in out
    assert 'Revert "Allow # inside values"' in out


def test_custom_skills_run_a_plan_with_a_function_and_a_wrapped_tool(
    kernel: str, tmp_path: Path
) -> None:
    out = execute(ROOT / "notebooks" / "03_custom_skills.ipynb", kernel, tmp_path)
    assert "done     read    count" in out
    assert "done     write   changelog" in out
    assert "run completed - commit " in out
    assert "- Stock levels are reported by item." in out
    assert "CHANGELOG.md" in out
    assert "climbs out of the workspace" in out
