"""The rename recipe on code as real projects keep it: an ``__all__`` in ruff's RUF022 order,
changelogs, docs examples that define the same name, and link anchors; whole runs on real
git repositories, judged by real ruff and by each project's own suite on the committed tree."""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.repos import full_suite, git, require_program, run_collecting

from phasegraph.recipes.doc_names import is_history
from phasegraph.recipes.export_order import ALPHABETICAL, RUF022, kept_order


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


def ruff(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_program("ruff"), *args], cwd=root, capture_output=True, text=True, check=False
    )


def dunder_all(text: str) -> list[str]:
    found = re.search(r"__all__ = \[(.*?)\]", text, re.S)
    assert found is not None, text
    return re.findall(r'"(\w+)"', found.group(1))


# Names whose RUF022 order differs from code-point order: constants before classes, digit
# runs compared as numbers (leading zeros digit by digit), single capitals as classes,
# non-ASCII capitals, underscores.
NAMES = [
    "A", "AB", "Ab", "a_B", "a10", "a2", "a01", "a1", "_x", "X_1", "X1a", "Ä", "x9", "x010",
    "xA", "x_a", "MAX_RETRIES", "Client", "fetch", "v2", "v10", "HTTP2", "HTTP10", "Http2",
]  # fmt: skip


def test_the_ruf022_order_is_the_one_real_ruff_sorts_to(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    rng = random.Random(22)
    for n in range(5):
        shuffled = rng.sample(NAMES, len(NAMES))
        path = tmp_path / f"m{n}.py"
        path.write_text(f"__all__ = {shuffled!r}\n".replace("'", '"'))
        ruff(tmp_path, "check", "--isolated", "--select", "RUF022", "--fix", path.name)
        by_ruff = dunder_all(path.read_text())
        assert by_ruff == RUF022.sort(shuffled)
        assert RUF022.holds(by_ruff)
        assert kept_order(by_ruff) is RUF022
        assert not RUF022.holds(shuffled)


# A package whose `__all__` lists are in ruff's RUF022 order (constants, then classes, then
# the rest) and RUF022 is one of its checks; a second module keeps plain alphabetical order
# (classes before constants), which is not RUF022's, and its rules do not check it there.
RUF022_PROJECT = {
    "pyproject.toml": (
        '[tool.ruff.lint]\nselect = ["E", "F", "I", "RUF022"]\n\n'
        '[tool.ruff.lint.per-file-ignores]\n"legacy/*" = ["RUF022"]\n'
    ),
    "shelf/__init__.py": (
        '"""Books on a shelf."""\n\n'
        "from shelf.books import MAX_BOOKS, Book, count, parse\n\n"
        '__all__ = ["MAX_BOOKS", "Book", "count", "parse"]\n'
    ),
    "shelf/books.py": (
        '__all__ = [\n    "MAX_BOOKS",\n    "Book",\n    "count",\n    "parse",\n]\n\n'
        "MAX_BOOKS = 10\n\n\n"
        "class Book:\n"
        "    def __init__(self, title: str) -> None:\n"
        "        self.title = title\n\n\n"
        "def count(books: list[Book]) -> int:\n"
        "    return len(books)\n\n\n"
        "def parse(line: str) -> Book:\n"
        "    return Book(line.strip())\n"
    ),
    "legacy/__init__.py": "",
    "legacy/compat.py": (
        "from shelf import MAX_BOOKS, Book, count, parse\n\n"
        '__all__ = ["Book", "MAX_BOOKS", "count", "parse"]\n'
    ),
    "tests/test_shelf.py": (
        "import legacy.compat\nimport shelf\n\n\n"
        "def test_parse() -> None:\n"
        '    assert shelf.parse(" Dune ").title == "Dune"\n'
        '    assert shelf.count([shelf.parse("a")]) == 1\n'
        "    assert legacy.compat.__all__ == sorted(legacy.compat.__all__)\n"
    ),
}


async def test_a_ruf022_sorted_all_stays_ruf022_sorted_and_an_alphabetical_one_alphabetical(
    make_repo: Callable[[dict[str, str]], Path],
) -> None:
    root = make_repo(RUF022_PROJECT)
    plan = {
        "goal": "rename parse to book_from",
        "recipe": {
            "name": "rename",
            "args": {
                "old": "parse",
                "new": "book_from",
                "fix_imports": True,
                "verify": ["run_ruff", {"skill": "run_pytest", "args": {"paths": ["tests"]}}],
            },
        },
    }
    report, _ = await run_collecting(plan, root)
    assert report.status == "completed", report.error
    assert git(root, "rev-parse", "HEAD").strip() == report.commit
    assert git(root, "status", "--porcelain") == ""
    # `book_from` moves ahead of `count`: where RUF022 puts it (constants, classes, the rest),
    # and where plain alphabetical order puts it in the module kept that way.
    ruf022 = ["MAX_BOOKS", "Book", "book_from", "count"]
    assert dunder_all((root / "shelf/__init__.py").read_text()) == ruf022
    assert (
        (root / "shelf/books.py")
        .read_text()
        .startswith(
            '__all__ = [\n    "MAX_BOOKS",\n    "Book",\n    "book_from",\n    "count",\n]\n'
        )
    )
    assert dunder_all((root / "legacy/compat.py").read_text()) == [
        "Book",
        "MAX_BOOKS",
        "book_from",
        "count",
    ]
    # The oracles, on the committed tree: real ruff's RUF022 (with the project's settings)
    # and the project's own suite.
    checked = ruff(root, "check", "--select", "RUF022", ".")
    assert checked.returncode == 0, checked.stdout
    code, counts, last = full_suite(root)
    assert code == 0 and counts.get("passed") == 1, last


@pytest.mark.parametrize(
    ("names", "order"),
    [
        (["MAX_BOOKS", "Book", "count", "parse"], RUF022),
        (["Book", "MAX_BOOKS", "count", "parse"], ALPHABETICAL),
        (["count", "parse"], RUF022),  # in both: RUF022's, the one a linter checks
        (["parse", "count"], None),
    ],
)
def test_the_order_kept_is_the_one_the_list_is_in(names: list[str], order: object | None) -> None:
    assert kept_order(names) is order


@pytest.mark.parametrize(
    "rel",
    [
        "CHANGELOG.md",
        "changelog.rst",
        "HISTORY.rst",
        "NEWS",
        "News.md",
        "CHANGES.rst",
        "docs/changelog.md",
        "docs/Changelog/1.0.md",
        "changelog.d/123.added.md",
        "newsfragments/7.bugfix.rst",
        "CHANGELOG-1.x.md",
    ],
)
def test_changelog_and_history_files_are_known_by_name(rel: str) -> None:
    assert is_history(rel)


@pytest.mark.parametrize("rel", ["docs/guide.md", "README.md", "docs/newsletter.md"])
def test_other_docs_are_not_history(rel: str) -> None:
    assert not is_history(rel)


# A package documented with mkdocs-style pages: a changelog and a history, a guide whose code
# blocks the project's own tests execute (so the suite is the oracle of every example), one
# example that defines its own `Client`, and links to the API page's anchors.
DOCS_PROJECT = {
    "pyproject.toml": '[tool.ruff.lint]\nselect = ["E", "F", "I"]\n',
    "netkit/__init__.py": (
        '"""Fetching."""\n\nfrom netkit.client import Client\n\n__all__ = ["Client"]\n'
    ),
    "netkit/client.py": (
        "class Client:\n"
        '    """Fetches pages: see [Client][netkit.Client]."""\n\n'
        "    def get(self, url: str) -> str:\n"
        '        return f"page {url}"\n'
    ),
    "CHANGELOG.md": (
        "# Changelog\n\n## 1.0\n\n- Added `Client` (`netkit.Client`).\n"
        "- `from netkit import Client` is the way in.\n"
    ),
    "docs/history.rst": "History\n=======\n\n0.1: ``Client`` came first.\n",
    "docs/api.md": "# API\n\n::: netkit.Client\n",
    "docs/guide.md": (
        "# Guide\n\n"
        "Use [`Client`](api.md#netkit.Client) to fetch a page.\n"
        "See [Client](api.md#netkit.Client) for its methods, [the example](#client) below.\n"
        "Headings: `Client` is shown [here](#client-and-friends), [there](other.md#client).\n"
        "Other projects have their own [Client](other.md#other.Client).\n"
        "Prose only: [Client](#client).\n\n"
        "## `Client`\n\n"
        "```python\n"
        "from netkit import Client\n\n"
        'assert Client().get("a") == "page a"\n'
        "```\n\n"
        "## Client and friends\n\n"
        "```python\n"
        "import netkit\n\n\n"
        "class Client:\n"
        '    """An example\'s own Client, wrapping netkit.Client."""\n\n'
        "    def __init__(self) -> None:\n"
        "        self.inner = netkit.Client()\n\n\n"
        'assert Client().inner.get("b") == "page b"\n'
        "```\n"
    ),
    "tests/test_docs.py": (
        '"""Every python block of the docs runs."""\n\n'
        "import pathlib\nimport re\n\n"
        "import pytest\n\n"
        'GUIDE = pathlib.Path(__file__).parent.parent / "docs" / "guide.md"\n'
        'BLOCKS = re.findall(r"```python\\n(.*?)```", GUIDE.read_text(), re.S)\n\n\n'
        # Ids by number: a rename changes the code, never which test is which.
        '@pytest.mark.parametrize("n", range(len(BLOCKS)))\n'
        "def test_block(n: int) -> None:\n"
        '    exec(compile(BLOCKS[n], str(GUIDE), "exec"), {})\n\n\n'
        "def test_blocks_found() -> None:\n"
        "    assert len(BLOCKS) == 2\n"
    ),
}


async def test_include_docs_leaves_history_and_an_examples_own_class_and_follows_anchors(
    make_repo: Callable[[dict[str, str]], Path],
) -> None:
    root = make_repo(DOCS_PROJECT)
    plan = {
        "goal": "rename Client to Session",
        "recipe": {
            "name": "rename",
            "args": {
                "old": "Client",
                "new": "Session",
                "defined_in": "netkit/client.py",
                "include_docs": True,
                "verify": ["run_ruff", {"skill": "run_pytest", "args": {"paths": ["tests"]}}],
            },
        },
    }
    report, _ = await run_collecting(plan, root)
    assert report.status == "completed", report.error
    assert git(root, "rev-parse", "HEAD").strip() == report.commit
    changed = set(git(root, "show", "--name-only", "--format=", "HEAD").split())
    # History is never rewritten, and the report says why, line by line.
    assert {"CHANGELOG.md", "docs/history.rst"}.isdisjoint(changed)
    assert (root / "CHANGELOG.md").read_text() == DOCS_PROJECT["CHANGELOG.md"]
    for place in ("CHANGELOG.md:5", "CHANGELOG.md:6", "docs/history.rst:4"):
        assert any(
            n.startswith(f"not changed: {place}: a changelog or history file") for n in report.notes
        ), (place, report.notes)
    guide = (root / "docs/guide.md").read_text()
    assert guide == (
        "# Guide\n\n"
        # An anchor naming the symbol (by its module, or a heading that the rename changes)
        # follows it, with a link text that is the bare name; another anchor holding the name
        # only on a line the rename changes; a heading that keeps its text keeps its anchor.
        "Use [`Session`](api.md#netkit.Session) to fetch a page.\n"
        "See [Session](api.md#netkit.Session) for its methods, [the example](#session) below.\n"
        "Headings: `Session` is shown [here](#client-and-friends), [there](other.md#session).\n"
        "Other projects have their own [Client](other.md#other.Client).\n"
        "Prose only: [Session](#session).\n\n"
        "## `Session`\n\n"
        "```python\n"
        "from netkit import Session\n\n"
        'assert Session().get("a") == "page a"\n'
        "```\n\n"
        "## Client and friends\n\n"
        "```python\n"
        "import netkit\n\n\n"
        # The example's own class keeps its name; the package's, qualified, is renamed.
        "class Client:\n"
        '    """An example\'s own Client, wrapping netkit.Session."""\n\n'
        "    def __init__(self) -> None:\n"
        "        self.inner = netkit.Session()\n\n\n"
        'assert Client().inner.get("b") == "page b"\n'
        "```\n"
    )
    local = [n for n in report.notes if "defines 'Client' itself" in n]
    assert {n.split(": ", 2)[1] for n in local} == {
        "docs/guide.md:23",
        "docs/guide.md:24",
        "docs/guide.md:30",
    }
    assert any(
        n.startswith("not changed: docs/guide.md:6: ")
        and "a link anchor qualified by other, not the symbol's" in n
        for n in report.notes
    ), report.notes
    assert (root / "docs/api.md").read_text() == "# API\n\n::: netkit.Session\n"
    # The oracle: the project's own suite, which executes every python block of the guide.
    code, counts, last = full_suite(root)
    assert code == 0 and counts.get("passed") == 3, last
