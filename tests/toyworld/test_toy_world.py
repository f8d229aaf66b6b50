"""The toy world's ground truth: render, edit, re-detect; determinism per seed."""

import random

import numpy as np
import pytest

from toyworld import world as W


def scenes(n, seed=0, max_objects=3):
    rng = random.Random(seed)
    return [W.random_scene(rng, max_objects=max_objects, striped_p=0.3) for _ in range(n)]


def test_same_seed_same_scenes_and_pixels():
    a, b = scenes(20, seed=5), scenes(20, seed=5)
    assert a == b
    assert [W.caption(s) for s in a] == [W.caption(s) for s in b]
    assert np.array_equal(np.asarray(W.render(a[3])), np.asarray(W.render(b[3])))
    assert scenes(20, seed=6) != a


def test_caption_reads_like_english():
    s = W.Scene("green", (W.Obj("circle", "red", "small", 3), W.Obj("square", "blue", "large", 5)))
    assert W.caption(s) == (
        "a small red circle on the left and a large blue square on the right, "
        "on a green background"
    )
    striped = W.Scene("white", (W.Obj("triangle", "black", "large", 4),), "striped")
    assert W.caption(striped) == "a large black triangle in the center, on a striped white background"


def test_detector_reads_back_every_rendered_scene():
    for s in scenes(60, seed=1):
        r = W.detect(W.render(s))
        assert r.background == s.background, W.caption(s)
        assert len(r.objects) == len(s.objects), W.caption(s)
        for o in s.objects:
            assert W.matches(r, o) == dict.fromkeys(("present", "colour", "shape", "size"), True)


@pytest.mark.parametrize("op", ["recolor", "reshape", "resize", "move", "add", "remove", "background"])
def test_every_edit_renders_its_ground_truth(op):
    rng = random.Random(op)
    done = 0
    for s in scenes(40, seed=2, max_objects=2):
        e = W.random_edit(rng, s, ops=(op,), max_objects=3)
        if e.op != op:
            continue
        done += 1
        assert e.before == s and e.after != s
        after, before = W.detect(W.render(e.after)), W.detect(W.render(e.before))
        assert W.edit_succeeded(after, e), (op, W.caption(e.after))
        assert not W.edit_succeeded(before, e), (op, W.caption(e.before))
        # Outside the edited region the two ground-truth renders are identical.
        keep = ~e.changed_mask()
        diff = np.abs(np.asarray(W.render(e.after), float) - np.asarray(W.render(e.before), float))
        assert diff[keep].max() == 0
    assert done >= 5


def test_detector_rejects_a_wrong_colour_and_a_blank_image():
    s = W.Scene("white", (W.Obj("square", "red", "large", 4),))
    e = W.recolor(s, 4, "blue")
    assert not W.edit_succeeded(W.detect(W.render(s)), e)
    blank = W.detect(W.render(W.Scene("white")))
    assert blank.objects == () and blank.background == "white"


def test_vocabulary_covers_captions_and_instructions():
    vocab = set(W.vocabulary())
    rng = random.Random(3)
    for s in scenes(50, seed=3):
        assert set(W.caption(s).replace(",", " ,").split()) <= vocab
        e = W.random_edit(rng, s)
        assert set(e.focus) <= vocab
