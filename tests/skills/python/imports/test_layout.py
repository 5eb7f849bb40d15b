"""The one module resolver: a file's dotted module, by the plain ``__init__.py`` walk and
through the packaging layout's mappings, and the files a dotted name stands for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.repos import write

from phasegraph.skills.python.imports.layout import (
    ModuleResolver,
    module_name,
    module_parts,
    project_layout,
)


def _tree(root: Path, files: list[str], pyproject: str = "") -> Callable[[str], bool]:
    """Write ``files`` (empty) under ``root``; whether a workspace-relative file is there."""
    for rel in files:
        write(root, rel, "")
    if pyproject:
        write(root, "pyproject.toml", pyproject)
    return lambda rel: (root / rel).is_file()


def _known(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py")}


def test_module_parts_read_the_path_from_the_top() -> None:
    assert module_parts("src/pkg/a.py") == (("src", "pkg", "a"), False)
    assert module_parts("src/pkg/__init__.py") == (("src", "pkg"), True)
    assert module_parts("pkg/a.pyi") == (("pkg", "a"), False)
    assert module_parts("top.py") == (("top",), False)


def test_folders_count_while_they_hold_an_init(tmp_path: Path) -> None:
    is_file = _tree(
        tmp_path,
        [
            "pkg/__init__.py",
            "pkg/sub/__init__.py",
            "pkg/sub/a.py",
            "pkg/sub/b.pyi",
            "loose/c.py",
            "top.py",
            "outer/__init__.py",
            "outer/plain/d.py",
        ],
    )
    assert module_name("pkg/sub/a.py", is_file) == ("pkg.sub.a", False)
    assert module_name("pkg/sub/b.pyi", is_file) == ("pkg.sub.b", False)
    assert module_name("pkg/sub/__init__.py", is_file) == ("pkg.sub", True)
    assert module_name("pkg/__init__.py", is_file) == ("pkg", True)
    assert module_name("loose/c.py", is_file) == ("c", False)
    assert module_name("top.py", is_file) == ("top", False)
    # The walk stops at the first folder without an __init__.py.
    assert module_name("outer/plain/d.py", is_file) == ("d", False)


def test_a_src_layout_is_the_package_below_src(tmp_path: Path) -> None:
    pyproject = '[tool.setuptools.package-dir]\n"" = "src"\n'
    is_file = _tree(tmp_path, ["src/pkg/__init__.py", "src/pkg/calc.py"], pyproject)
    layout = project_layout(tmp_path, _known(tmp_path))
    for given in (None, layout):
        assert module_name("src/pkg/calc.py", is_file, given) == ("pkg.calc", False)
        assert module_name("src/pkg/__init__.py", is_file, given) == ("pkg", True)


def test_a_package_dir_mapping_names_the_files_below_its_folder(tmp_path: Path) -> None:
    pyproject = (
        "[tool.setuptools.package-dir]\n"
        'app = "."\n'
        '"app.plugins" = "vendor/plugins"\n'
        'mylib = "lib"\n'
    )
    files = ["lib/__init__.py", "lib/x/a.py", "vendor/plugins/p.py", "core.py"]
    is_file = _tree(tmp_path, files, pyproject)
    layout = project_layout(tmp_path, _known(tmp_path))
    assert module_name("lib/__init__.py", is_file, layout) == ("mylib", True)
    # Below a mapping a folder counts without an __init__.py, as imports resolve there.
    assert module_name("lib/x/a.py", is_file, layout) == ("mylib.x.a", False)
    assert module_name("lib/x/a.py", is_file) == ("a", False)
    # The deepest folder's mapping wins over the workspace's own.
    assert module_name("vendor/plugins/p.py", is_file, layout) == ("app.plugins.p", False)
    assert module_name("core.py", is_file, layout) == ("app.core", False)


def test_a_workspace_that_is_a_package_is_named_after_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "mypkg"
    is_file = _tree(root, ["__init__.py", "calc.py"])
    layout = project_layout(root, _known(root))
    assert module_name("calc.py", is_file, layout) == ("mypkg.calc", False)
    assert module_name("calc.py", is_file) == ("calc", False)


def test_the_resolver_finds_the_file_a_module_name_gives(tmp_path: Path) -> None:
    pyproject = '[tool.setuptools.package-dir]\nmylib = "lib"\n'
    files = ["lib/__init__.py", "lib/x/a.py", "src/pkg/__init__.py", "src/pkg/calc.py"]
    is_file = _tree(tmp_path, files, pyproject)
    known = _known(tmp_path)
    layout = project_layout(tmp_path, known)
    resolver = ModuleResolver(known, layout)
    for rel in ("lib/x/a.py", "src/pkg/calc.py", "src/pkg/__init__.py"):
        name, _ = module_name(rel, is_file, layout)
        assert rel in [chain[-1][0] for chain in resolver.chains(name.split("."))], name
    assert resolver.absolute(["mylib", "x", "a"]) == [
        ("lib/__init__.py", "imports mylib"),
        ("lib/x/a.py", "imports mylib.x.a"),
    ]
    assert resolver.chains(["mylib", "missing"]) == []


def test_a_relative_import_starts_from_its_package_folder() -> None:
    assert ModuleResolver.package_folder("pkg/sub/a.py", 1) == "pkg/sub"
    assert ModuleResolver.package_folder("pkg/sub/a.py", 2) == "pkg"
    assert ModuleResolver.package_folder("pkg/sub/a.py", 3) == ""
    assert ModuleResolver.package_folder("pkg/sub/a.py", 4) is None
