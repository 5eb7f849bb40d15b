"""The tried diff a report carries: each written file against its pre-image, created and
removed files against /dev/null, binary and huge files named, and a long diff clipped with a
note."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegraph.graph.durable import tried_diff as module
from phasegraph.graph.durable.tried_diff import clip, tried_diff
from phasegraph.graph.durable.undo import Preimages


def test_each_written_file_against_the_bytes_it_held_before(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("one\ntwo\n")
    (tmp_path / "gone.txt").write_text("bye\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1")
    Preimages(tmp_path, "r").keep(["a.py", "gone.txt", "new/b.py", "blob.bin"])
    (tmp_path / "a.py").write_text("one\n2\n")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "new").mkdir()
    (tmp_path / "new/b.py").write_text("fresh")
    (tmp_path / "blob.bin").write_bytes(b"\0\2")

    diff = tried_diff(tmp_path, "r", ["a.py", "gone.txt", "new/b.py", "blob.bin", "unkept.py"])

    assert "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n" in diff
    assert "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n" in diff
    assert (
        "--- /dev/null\n+++ b/new/b.py\n@@ -0,0 +1 @@\n+fresh\n\\ No newline at end of file\n"
        in diff
    )
    assert "Binary files a/blob.bin and b/blob.bin differ\n" in diff
    assert "# unkept.py: its earlier bytes were not kept; no diff\n" in diff


def test_a_file_too_large_to_diff_is_named_with_its_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "MAX_DIFFED_BYTES", 10)
    (tmp_path / "big.txt").write_text("x" * 20)
    Preimages(tmp_path, "r").keep(["big.txt"])
    (tmp_path / "big.txt").write_text("y" * 30)

    assert (
        tried_diff(tmp_path, "r", ["big.txt"]) == "# big.txt: 20 -> 30 bytes, too large to show\n"
    )


def test_a_long_diff_is_clipped_at_a_line_with_a_note() -> None:
    diff = "".join(f"+line {i}\n" for i in range(1000))

    clipped = clip(diff, 100)

    kept, _, note = clipped.partition("# diff clipped: ")
    assert diff.startswith(kept) and kept.endswith("\n") and len(kept) <= 100
    assert note.startswith(f"{len(diff) - len(kept)} of {len(diff)} characters left out")
    assert clip("short\n", 100) == "short\n"
