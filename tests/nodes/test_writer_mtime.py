"""A write moves its file's modification time past the whole second the file had.

Tools take a file whose size and whole-second mtime are unchanged for unchanged: mypy's cache
does, so a same-size edit that lands within the second its baseline saw was checked as the old
text (a false green, seen under load in tests/skills/python/checkers/test_invocation.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from support.repos import run_collecting

MakeRepo = Callable[[dict[str, str]], Path]

SAME_SIZE = {
    "id": "edit",
    "skill": "edit_block",
    "args": {"path": "lib.py", "search": "-> int", "replace": "-> str"},
}


async def test_a_same_size_edit_within_the_files_second_moves_past_it(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"lib.py": "def f(x: int) -> int:\n    return x\n"})
    lib = repo / "lib.py"
    # The file's second is one a write made now would not leave (the clock may be on it).
    second = int(time.time()) + 5
    os.utime(lib, (second, second))
    size = lib.stat().st_size

    report, _ = await run_collecting({"goal": "g", "steps": [SAME_SIZE]}, repo)

    assert report.status == "completed", report.error
    assert lib.stat().st_size == size and "-> str" in lib.read_text()
    assert int(lib.stat().st_mtime) == second + 1


async def test_a_created_file_and_a_later_one_keep_their_own_times(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": "A = 1\n"})
    lib = repo / "lib.py"
    long_ago = int(time.time()) - 3600
    os.utime(lib, (long_ago, long_ago))
    write = {"id": "new", "skill": "write_file", "args": {"path": "new.py", "content": "B = 2\n"}}
    edit = {
        "id": "edit",
        "skill": "edit_block",
        "args": {"path": "lib.py", "search": "1", "replace": "2"},
    }
    started = int(time.time())

    report, _ = await run_collecting({"goal": "g", "steps": [write, edit]}, repo)

    assert report.status == "completed", report.error
    # A file the run created is past the second it was written in; a file last changed long
    # ago keeps the time of its write (nothing moved that needed no moving).
    assert int((repo / "new.py").stat().st_mtime) > started
    assert started <= int(lib.stat().st_mtime) <= int(time.time())
