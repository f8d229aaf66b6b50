"""The bundled model's reader: a caption read back into the world's terms and compared with
the detector's reading; what an edit asked is told apart from what should have stayed."""

from __future__ import annotations

import random

from toyworld import reader as R
from toyworld import world as W

SCENE = W.Scene("green", (W.Obj("circle", "red", "small", 3), W.Obj("square", "blue", "large", 5)))


def _met(claims) -> list[bool]:
    return [c["met"] for c in claims]


def test_a_missing_triangle_is_a_miss_and_a_drawn_one_a_hit():
    edit = W.add(SCENE, W.Obj("triangle", "white", "small", 1))
    before, after = W.caption(edit.before), W.caption(edit.after)
    missed = R.read(W.render(SCENE), after, before)
    assert missed["asked"] == [{"what": "a small white triangle at the top", "met": False,
                                "seen": "nothing at the top"}]
    assert all(_met(missed["kept"]))  # nothing else changed: it only missed
    hit = R.read(W.render(edit.after), after, before)
    assert _met(hit["asked"]) == [True] and all(_met(hit["kept"]))
    assert hit["seen"].startswith("a small white triangle at the top")


def test_what_should_have_stayed_is_told_apart():
    edit = W.recolor(SCENE, 3, "blue")
    broken = W.Scene("purple", (W.Obj("circle", "blue", "small", 3),))  # square gone, bg wrong
    got = R.read(W.render(broken), W.caption(edit.after), W.caption(edit.before))
    assert [(c["what"], c["met"]) for c in got["asked"]] == [("a small blue circle on the left",
                                                               True)]
    kept = {c["what"]: (c["met"], c["seen"]) for c in got["kept"]}
    assert kept["a green background"] == (False, "a purple background")
    assert kept["a large blue square on the right"] == (False, "nothing on the right")


def test_moves_removals_and_photos():
    move = W.move(SCENE, 5, 0)
    stayed = R.read(W.render(SCENE), W.caption(move.after), W.caption(move.before))
    assert _met(stayed["asked"]) == [False] and "still" in stayed["asked"][0]["seen"]
    gone = W.remove(SCENE, 3)
    kept_it = R.read(W.render(SCENE), W.caption(gone.after), W.caption(gone.before))
    assert kept_it["asked"] == [{"what": "a small red circle on the left", "met": False,
                                 "seen": "a small red circle on the left", "absent": True}]
    # A photo's caption names nothing of this world; its background can still be read.
    assert R.read(W.render(SCENE), "a dog on a beach", "a dog on a sand beach") is None
    bg = R.read(W.render(SCENE), "a red ball on a blue background", "a red ball on green grass")
    assert bg["asked"] == [{"what": "a blue background", "met": False,
                            "seen": "a green background"}]
    assert bg["kept"] == []  # a ball is not of this world: nothing else is judged


def test_on_ground_truth_renders_the_reader_agrees_with_the_world():
    """Every held-out edit (all six kinds, up to three objects): the true result's render
    meets every claim; the unedited render misses what was asked."""
    rng = random.Random(0)
    for scene in W.heldout_scenes(150, seed=3, max_objects=3):
        edit = W.random_edit(rng, scene, max_objects=3)
        before, after = W.caption(edit.before), W.caption(edit.after)
        right = R.read(W.render(edit.after), after, before)
        assert right["asked"] and all(_met(right["asked"]) + _met(right["kept"])), edit
        wrong = R.read(W.render(edit.before), after, before)
        assert not all(_met(wrong["asked"])), edit
