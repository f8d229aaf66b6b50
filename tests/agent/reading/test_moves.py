"""agent/reading/references.py: moves said by order, by place and relative to the last
move, as people write them (typos, hedges, questions that point)."""

import pytest

from agent.reading.references import read

CASES = [
    ("my third edit", ("goto", "request", 3)),
    ("2nd edit", ("goto", "request", 2)),
    ("whatever i did first", ("goto", "request", 1)),
    ("jump to my final edit", ("goto", "request", -1)),
    ("the 4th version", ("goto", "made", 4)),
    ("version 2", ("goto", "made", 2)),
    ("newest one", ("goto", "made", -1)),
    ("jump ahead to the most recent one", ("goto", "made", -1)),
    ("penultimate one pls", ("goto", "before_last", 0)),
    ("ok, return to where i was", ("goto", "came_from", 0)),
    ("show me the raw upload again", ("goto", "original", 0)),
    ("rewind one step", ("undo", None, 0)),
    ("back again", ("again", None, 0)),
    ("undo once more", ("again", None, 0)),
    ("next one", ("redo", None, 0)),
    ("switch across", ("branch", "other", 0)),
    ("hop over to the other branch", ("branch", "other", 0)),
]


@pytest.mark.parametrize("text, want", CASES, ids=[c[0] for c in CASES])
def test_moves_by_order_place_and_the_last_move(text, want):
    nav = read(text)
    kind, how, number = want
    assert nav is not None and nav.kind == kind, nav
    if how is not None:
        assert nav.target.how == how and nav.target.number == number, nav


def test_undo_takes_back_requests_and_back_one_images():
    assert read("undo").whole and read("scrap that last change").whole
    assert not read("go back").whole and not read("take it back three steps").whole


@pytest.mark.parametrize("text, words, without", [
    ("which version had the cyclist? take me there", "cyclist", ""),
    ("i might be wrong but wasnt the tram green at some point? id like that one",
     "tram green", ""),
    ("the stormy one but before the big waves", "stormy", "big waves"),
    ("the one with the green tram on a sunny morning, before the cyclist",
     "green tram sunny morning", "cyclist"),
    ("go bakc 2 before the frisby", "frisby", ""),
])
def test_what_a_move_names(text, words, without):
    nav = read(text)
    assert nav is not None and nav.kind == "goto"
    assert nav.target.words == words and nav.target.without == without
