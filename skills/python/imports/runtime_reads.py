"""What a file reads or runs at run time that its imports do not say: the files it opens,
globs or walks by names built at run time, the code it runs from text, the commands it builds.

A test that runs the package without importing it by name (a ``test_docs.py`` that globs
``docs/*.md`` and runs their examples, documentation examples run by pytest-examples, a
command built at run time) reaches whatever those files or commands reach, which no import
says. :func:`runtime_reads` finds such uses in a module's syntax tree, each as one line
(``reads files at run time (docs/*.md)``); the import graph
(:class:`phasegraph.skills.python.imports.graph.ImportGraph`) has a test file, a
``conftest.py`` or a helper in the tests' folders that has one reach every written file.

Counted:

- a file read (``open``, ``Path.open`` / ``read_text`` / ``read_bytes``, ``glob`` / ``rglob``
  / ``iterdir``, ``os.walk`` / ``listdir`` / ``scandir``, ``glob.glob``, ``shutil`` copies)
  whose target is not a literal file name: a name built at run time, or a folder or pattern
  whose files it lists. Not counted: a literal name (``open("README.md")``), which the graph
  resolves itself by the file names strings mention; data files (``HERE / "cases.json"``,
  ``DATA.glob("*.json")``), which run no code (and any written file that is not Python runs
  the whole suite anyway); a path rooted at pytest's temporary folders (``tmp_path``,
  ``tmpdir`` and names assigned from them), a file the test wrote itself;
- code run from text: ``doctest.testfile`` / ``DocFileSuite`` / ``DocTestParser``,
  ``code.InteractiveInterpreter`` / ``InteractiveConsole``, and the fixtures that run code
  (``eval_example``, ``pytester``, ``testdir``); ``exec``, ``eval``, ``compile``, ``runpy``
  and computed imports the graph already counts as dynamic loads;
- a documentation-example runner imported (pytest-examples, mktestdocs, Sybil,
  pytest-codeblocks, phmdoctest, pytest-markdown-docs);
- a subprocess whose program is not a literal (``subprocess.run(cmd)``), or is a shell or a
  tool that runs the project's code (``bash``, ``make``, ``tox``, ``nox``, ``pytest``, ...).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

#: pytest's temporary-folder fixtures: a path rooted at one names a file the test made.
_TMP = frozenset({"tmp_path", "tmpdir", "tmp_path_factory", "tmpdir_factory"})
#: Methods and functions that read one file, named by their receiver or first argument.
_READ_ONE = frozenset({"open", "read_text", "read_bytes"})
#: Methods and functions that list a folder's files (a literal folder still lists any).
_LIST = frozenset({"glob", "rglob", "iglob", "iterdir", "listdir", "scandir", "walk"})
#: Of those, the ones that list the files matching a pattern (``*.json``: data files only).
_GLOBS = frozenset({"glob", "rglob", "iglob"})
#: ``shutil`` copies, ``os``'s readers: only with that module as the receiver.
_MODULE_READS = {
    "shutil": frozenset({"copy", "copy2", "copyfile", "copytree"}),
    "os": frozenset({"open", "listdir", "scandir", "walk"}),
}
#: Extensions of data files, which hold no code to run: reading one reaches nothing written.
_DATA = frozenset(
    {"json", "csv", "tsv", "toml", "yaml", "yml", "ini", "cfg", "xml", "html", "bin", "dat"}
    | {"png", "jpg", "jpeg", "gif", "svg", "pdf", "gz", "zip", "tar", "parquet", "npy", "pkl"}
)
#: Calls that run code from text (the text a test read, or wrote).
_RUNS_TEXT = frozenset(
    {
        "testfile",
        "DocFileSuite",
        "DocTestParser",
        "InteractiveInterpreter",
        "InteractiveConsole",
    }
)
#: Fixtures that run code from text: pytest-examples', pytest's own pytester.
_FIXTURES = {"eval_example": "pytest-examples", "pytester": "pytester", "testdir": "pytester"}
#: Documentation-example runners: importing one runs the examples of the files it is given.
_DOC_RUNNERS = frozenset(
    {
        "pytest_examples",
        "mktestdocs",
        "sybil",
        "pytest_codeblocks",
        "phmdoctest",
        "pytest_markdown_docs",
    }
)
#: Subprocess functions (``subprocess.run``, ``os.system``, ``asyncio.create_subprocess_exec``).
_SUBPROCESS = {
    "subprocess": frozenset(
        {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}
    ),
    "os": frozenset({"system", "popen", "execv", "execvp", "spawnv", "spawnvp"}),
    "asyncio": frozenset({"create_subprocess_exec", "create_subprocess_shell"}),
}
#: Programs that run the project's code, whatever their arguments say.
_RUNNERS = frozenset(
    {"sh", "bash", "zsh", "dash", "make", "tox", "nox", "pytest", "py.test", "uv", "uvx"}
    | {"poetry", "hatch", "pdm", "pipx"}
)


def runtime_reads(module: ast.Module, nodes: Sequence[ast.AST]) -> list[str]:
    """What ``module`` (``nodes``: all of its nodes) reads or runs at run time that the
    import graph cannot resolve, one line each, in the order of the source
    (``reads files at run time (docs/*.md)``); see the module's docstring."""
    consts = _module_constants(module)
    tmp = _tmp_names(nodes)
    imported = _imported_names(nodes)
    found: dict[str, int] = {}

    def add(text: str, node: ast.AST) -> None:
        found.setdefault(text, getattr(node, "lineno", 0))

    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or ""]
            for name in modules:
                if name.partition(".")[0] in _DOC_RUNNERS:
                    add(f"runs documentation examples ({name.partition('.')[0]})", node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.arg in _FIXTURES:
                    add(f"runs code it did not import (the {arg.arg} fixture)", node)
        elif isinstance(node, ast.Call):
            said = _call(node, consts, tmp, imported)
            if said:
                add(said, node)
    return [text for text, _ in sorted(found.items(), key=lambda kv: kv[1])]


def _call(
    node: ast.Call, consts: dict[str, ast.expr], tmp: set[str], imported: dict[str, str]
) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        name, base = func.id, imported.get(func.id, "")
        receiver: ast.expr | None = None
    elif isinstance(func, ast.Attribute):
        name, receiver = func.attr, func.value
        base = receiver.id if isinstance(receiver, ast.Name) else ""
    else:
        return None
    if name in _RUNS_TEXT:
        return f"runs code it did not import ({spelled(func)})"
    if name in _SUBPROCESS.get(base, ()):
        return _command(node)
    module_read = name in _MODULE_READS.get(base, ())
    if base in _MODULE_READS or base in ("glob", "io", "codecs"):
        receiver = None  # the module, not a path
    if not (module_read or name in _READ_ONE or name in _LIST):
        return None
    if name == "open" and isinstance(receiver, ast.Name) and receiver.id in imported:
        return None  # webbrowser.open, tarfile.open: an imported module's own open
    if name == "walk" and base != "os" and node.args:
        return None  # ast.walk(tree); Path.walk() takes no path
    parts = [p for p in (receiver, *node.args[:1]) if p is not None]
    if not parts or any(_names(p) & tmp for p in parts):
        return None
    where = _joined(*(_text(p, consts) for p in parts))
    if name not in _LIST and all(_is_literal(p, consts) for p in parts) and not _glob(where):
        return None  # a literal file name: the graph reads the names strings mention
    one = name not in _LIST or name in _GLOBS  # one file, or files matching a pattern
    last = where.rpartition("/")[2] if one and _ends_literal(parts[-1]) else ""
    if "." in last and last.rpartition(".")[2].lower() in _DATA:
        return None  # data files (a test's fixture data, *.json): they run no code
    where = where or spelled(node)
    return f"reads files at run time ({where})"


def _command(node: ast.Call) -> str | None:
    """A subprocess call whose program is not literal, or is one that runs the project."""
    first = node.args[0] if node.args else None
    for keyword in node.keywords:
        if keyword.arg in ("args", "cmd") and first is None:
            first = keyword.value
    if isinstance(first, ast.List | ast.Tuple):
        first = first.elts[0] if first.elts else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        words = first.value.split(maxsplit=1)
        program = words[0].rsplit("/", 1)[-1] if words else ""
        return f"runs {program!r} in a subprocess" if program in _RUNNERS else None
    if first is None or spelled(first) == "sys.executable":
        return None  # Python itself: the graph counts it as a dynamic load already
    return f"runs a command built at run time ({spelled(node)})"


def _module_constants(module: ast.Module) -> dict[str, ast.expr]:
    """Names assigned exactly once at the module's top level, and their values."""
    seen: dict[str, list[ast.expr]] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                seen.setdefault(target.id, []).append(stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            seen.setdefault(stmt.target.id, []).append(stmt.value)
    return {name: values[0] for name, values in seen.items() if len(values) == 1}


def _tmp_names(nodes: Sequence[ast.AST]) -> set[str]:
    """pytest's temporary-folder fixtures, and the names assigned from paths rooted at them."""
    tmp = set(_TMP)
    assigns = [n for n in nodes if isinstance(n, ast.Assign | ast.AnnAssign | ast.NamedExpr)]
    changed = True
    while changed:
        changed = False
        for node in assigns:
            value = node.value
            if value is None or not _names(value) & tmp:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in tmp:
                    tmp.add(target.id)
                    changed = True
    return tmp


def _imported_names(nodes: Sequence[ast.AST]) -> dict[str, str]:
    """Each name an import binds, and the top module it comes from."""
    out: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                out[alias.asname or alias.name.partition(".")[0]] = alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                out[alias.asname or alias.name] = node.module.partition(".")[0]
    return out


def _names(expr: ast.expr) -> set[str]:
    """The names an expression reads, but those it only calls (``Path``, ``str``)."""
    called = {id(n.func) for n in ast.walk(expr) if isinstance(n, ast.Call)}
    return {
        n.id
        for n in ast.walk(expr)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in called
    }


def _text(expr: ast.expr, consts: dict[str, ast.expr], depth: int = 0) -> str:
    """What a path expression spells, the parts built at run time left out, through the
    module's constants (``Path(__file__).parent / "docs"``: ``docs``)."""
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str) else ""
    if isinstance(expr, ast.Name):
        known = expr.id in consts and depth < 4
        return _text(consts[expr.id], consts, depth + 1) if known else ""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _text(expr.left, consts, depth) + _text(expr.right, consts, depth)
    if isinstance(expr, ast.BinOp):
        return _joined(_text(expr.left, consts, depth), _text(expr.right, consts, depth))
    if isinstance(expr, ast.JoinedStr):
        return "".join(
            _text(v, consts, depth) if isinstance(v, ast.Constant) else "*" for v in expr.values
        )
    if isinstance(expr, ast.Call):
        args = [_text(a, consts, depth) for a in expr.args]
        if isinstance(expr.func, ast.Attribute) and expr.func.attr == "joinpath":
            return _joined(_text(expr.func.value, consts, depth), *args)
        return _joined(*args)  # Path(...), os.path.join(...), str(...)
    return ""


def _joined(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _ends_literal(expr: ast.expr) -> bool:
    """Whether a path expression ends in a literal (``ROOT / "data.json"``)."""
    if isinstance(expr, ast.BinOp):
        return _ends_literal(expr.right)
    if isinstance(expr, ast.Call) and expr.args:
        return _ends_literal(expr.args[-1])
    return isinstance(expr, ast.Constant)


def _is_literal(expr: ast.expr, consts: dict[str, ast.expr], depth: int = 0) -> bool:
    """Whether a path expression is made of literal strings only (through ``Path(...)``,
    ``/``, ``+``, ``os.path.join``, ``str`` and the module's constants)."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.Name):
        return expr.id in consts and depth < 4 and _is_literal(consts[expr.id], consts, depth + 1)
    if isinstance(expr, ast.BinOp):
        return _is_literal(expr.left, consts, depth) and _is_literal(expr.right, consts, depth)
    if isinstance(expr, ast.Call) and not expr.keywords and expr.args:
        return all(_is_literal(a, consts, depth) for a in expr.args)
    return False


def spelled(node: ast.AST, unknown: str = "a call") -> str:
    """``node`` as source, at most 60 characters (``unknown`` when it cannot be unparsed)."""
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        return unknown
    return text if len(text) <= 60 else f"{text[:57]}..."
