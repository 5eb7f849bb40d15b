"""split_findings: a verify's findings split into introduced and pre-existing, copy by copy."""

from __future__ import annotations

from phasegraph.nodes.verifies import split_findings

E501 = "lib.py: E501 line too long"
F401 = "lib.py: F401 'os' imported but unused"
TEST = "tests/test_lib.py::test_greet"


def test_findings_in_the_baseline_are_preexisting_and_the_rest_introduced() -> None:
    assert split_findings([E501, F401], [E501]) == ([F401], [E501])


def test_a_second_copy_of_an_old_finding_is_new() -> None:
    introduced, preexisting = split_findings([E501, E501, E501], [E501])
    assert introduced == [E501, E501]
    assert preexisting == [E501]


def test_as_many_copies_as_before_are_all_preexisting() -> None:
    assert split_findings([E501, F401, E501], [E501, E501, F401]) == ([], [E501, F401, E501])


def test_both_lists_keep_the_order_of_the_findings_after() -> None:
    after = [TEST, E501, F401, "b.py: B006", E501, "a.py: A001"]
    introduced, preexisting = split_findings(after, [E501, TEST])
    assert introduced == [F401, "b.py: B006", E501, "a.py: A001"]
    assert preexisting == [TEST, E501]


def test_findings_that_disappeared_are_in_neither_list() -> None:
    assert split_findings([F401], [E501, TEST, F401]) == ([], [F401])
    assert split_findings([], [E501, TEST]) == ([], [])


def test_with_no_baseline_everything_is_introduced() -> None:
    assert split_findings([E501, E501], []) == ([E501, E501], [])
    assert split_findings([], []) == ([], [])


def test_the_arguments_are_left_as_they_were() -> None:
    after, before = [E501, F401, E501], [E501]
    split_findings(after, before)
    assert (after, before) == ([E501, F401, E501], [E501])
