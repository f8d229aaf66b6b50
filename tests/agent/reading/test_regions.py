"""Region words: where a request limits its edit, and the request without them."""

from __future__ import annotations

import pytest

from agent.reading.regions import read


@pytest.mark.parametrize(("text", "kind", "things", "rest"), [
    ("make only the sky pink", "only", ("sky",), "make the sky pink"),
    ("just the background: make it blue", "only", ("background",), "make the background blue"),
    ("only change the sky to pink", "only", ("sky",), "change the sky to pink"),
    ("recolour the background only", "only", ("background",), "recolour the background"),
    ("make the square bigger, only the square", "only", ("square",), "make the square bigger"),
    ("make everything except the dog black and white", "except", ("dog",),
     "make everything black and white"),
    ("make it black and white except for the red car and the dog", "except",
     ("red car", "dog"), "make it black and white"),
    ("blur everything but not the small blue circle", "except", ("small blue circle",),
     "blur everything"),
    ("make it sepia but leave the cat alone", "except", ("cat",), "make it sepia"),
    ("make everything black and white but leave the dog as it is", "except", ("dog",),
     "make everything black and white"),
    ("make it winter, don't touch the house", "except", ("house",), "make it winter"),
])
def test_things_the_request_limits_the_edit_to_or_spares(text, kind, things, rest):
    words, left = read(text)
    assert (words.kind, words.things, left) == (kind, things, rest)
    assert words.as_dict()["things"] == list(things)
    assert words.as_dict()["except"] is (kind == "except")


@pytest.mark.parametrize(("text", "box", "rest"), [
    ("make the left half darker", (0, 0, .5, 1), "make it darker"),
    ("brighten the top half of the image", (0, 0, 1, .5), "brighten it"),
    ("make only the left half darker", (0, 0, .5, 1), "make it darker"),
    ("make the bottom right corner blue", (.5, .5, 1, 1), "make it blue"),
    ("make the middle of the picture brighter", (.25, .25, .75, .75), "make it brighter"),
    # an added thing keeps its place in the description as well
    ("add a star in the top right corner", (.5, 0, 1, .5), "add a star in the top right corner"),
    ("make it snowy in the lower half", (0, .5, 1, 1), "make it snowy"),
])
def test_areas_of_the_frame(text, box, rest):
    words, left = read(text)
    assert (words.kind, words.box, left) == ("area", box, rest)
    assert words.as_dict() == {"source": "words", "phrase": words.phrase, "box": list(box)}


@pytest.mark.parametrize("text", [
    "make the circle blue", "remove the hat", "move the circle to the left half",
    "move the square to the top left", "put the dog on the right side", "just make it brighter",
    "make it look just like a painting", "make the circle blue and keep the square in place",
    "add a small white triangle at the top", "", "undo",
])
def test_requests_without_region_words_are_left_as_they_are(text):
    assert read(text) == (None, " ".join(text.split()))


def test_what_the_words_mean_in_a_sentence():
    assert read("make everything except the dog and the cat sepia")[0].describe() == \
        "everything except the dog and the cat"
    assert read("make only the sky pink")[0].describe() == "only the sky"
