"""The tree as it was before a run, put back for a moment: every file back as the run left it
afterwards, a crash in between mended by ``put_back``, and nobody's change overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegraph.graph.durable.pre_run_tree import put_back, put_before
from phasegraph.graph.durable.undo import Preimages
from phasegraph.skills.core.errors import UndoError


def ran(tmp_path: Path) -> Path:
    """A workspace where run ``r1`` kept pre-images, then edited ``a.py`` and created
    ``new.py``."""
    (tmp_path / "a.py").write_text("A = 1\n")
    Preimages(tmp_path, "r1").keep(["a.py", "new.py"])
    (tmp_path / "a.py").write_text("A = 2\n")
    (tmp_path / "new.py").write_text("B = 1\n")
    return tmp_path


def test_the_earlier_tree_and_back(tmp_path: Path) -> None:
    ws = ran(tmp_path)

    put_before(ws, "r1", ["a.py", "new.py"])
    assert (ws / "a.py").read_text() == "A = 1\n"
    assert not (ws / "new.py").exists()

    assert sorted(put_back(ws, "r1")) == ["a.py", "new.py"]
    assert (ws / "a.py").read_text() == "A = 2\n"
    assert (ws / "new.py").read_text() == "B = 1\n"
    assert put_back(ws, "r1") == []  # the journal is gone: nothing to do


def test_a_moment_cut_short_half_way_is_mended(tmp_path: Path) -> None:
    ws = ran(tmp_path)
    put_before(ws, "r1", ["a.py", "new.py"])
    (ws / "new.py").write_text("B = 1\n")  # as if the crash came before new.py went

    assert put_back(ws, "r1") == ["a.py"]
    assert (ws / "a.py").read_text() == "A = 2\n"
    assert (ws / "new.py").read_text() == "B = 1\n"


def test_someone_elses_change_in_between_is_never_overwritten(tmp_path: Path) -> None:
    ws = ran(tmp_path)
    put_before(ws, "r1", ["a.py", "new.py"])
    (ws / "a.py").write_text("MINE = 1\n")

    with pytest.raises(UndoError, match=r"a\.py changed while phasegraph had put"):
        put_back(ws, "r1")
    assert (ws / "a.py").read_text() == "MINE = 1\n"
    assert not (ws / "new.py").exists()  # nothing changed: all or none


def test_a_file_without_its_earlier_bytes_is_refused_before_any_change(tmp_path: Path) -> None:
    ws = ran(tmp_path)
    (ws / "other.py").write_text("C = 1\n")  # written by a skill that did not declare it

    with pytest.raises(UndoError, match=r"other\.py without keeping its earlier bytes"):
        put_before(ws, "r1", ["a.py", "other.py"])
    assert (ws / "a.py").read_text() == "A = 2\n"
    assert put_back(ws, "r1") == []
