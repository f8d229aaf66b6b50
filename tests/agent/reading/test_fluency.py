"""agent/reading/fluency.py on its own: a target prompt that still carries the request, chat
words, a dangling article or preposition, an article before a plural or one object twice
does not read as a caption; ordinary captions do."""

import pytest

from agent.reading.fluency import duplicated, problems

PRODUCT = "a product photo of a white ceramic mug on a wooden table"
STREET = "a photo of a red bicycle leaning on a brick wall"
LAKE = "a photo of a mountain lake under a cloudy sky"

BAD = [
    (PRODUCT, PRODUCT + ", can u do a flat vector illustration version", "request"),
    (PRODUCT, PRODUCT + ", the table should be marble not wood", "request"),
    (LAKE, "a photo of a mountain lake under a, with a small red cabin", "dangling"),
    (PRODUCT, PRODUCT + ", with a black matte, lol", "request"),
    (STREET, STREET + ", with a blue bike", "twice"),
    (PRODUCT, PRODUCT + ", lose the plant", "instruction"),
    (PRODUCT, PRODUCT + ", he looks bored", "phrasing"),
    (LAKE, LAKE + ", with a wings spread open", "plural"),
    (LAKE, LAKE + ", with the", "dangling"),
    (PRODUCT, PRODUCT + ", make it pop please", "request"),
    (PRODUCT, PRODUCT + ", красный", "cannot read"),
    (PRODUCT, PRODUCT + ", on fire 🔥", "cannot read"),
    (PRODUCT, PRODUCT + ", ｒｅｄ", "cannot read"),
]
GOOD = [
    (PRODUCT, "a product photo of a black ceramic mug on a marble table"),
    (LAKE, "a photo of a mountain lake under a cloudy sky, with a small red cabin by the lake"),
    (STREET, "a watercolor painting of a red bicycle leaning on a brick wall"),
    (LAKE, LAKE + ", at night, dark sky, lit by soft moonlight"),
    (STREET, "a photo of a red bicycle leaning on a brick wall, with a cat next to it"),
    (STREET, STREET + ", outside a café"),
    (LAKE, LAKE + ", with birds in the sky"),
]


@pytest.mark.parametrize("before, after, says", BAD, ids=[a[-40:] for _, a, _ in BAD])
def test_a_garbled_prompt_is_named(before, after, says):
    found = problems(after, before)
    assert found, after
    assert any(says in p for p in found), found


@pytest.mark.parametrize("before, after", GOOD, ids=[a[-40:] for _, a in GOOD])
def test_a_caption_passes(before, after):
    assert problems(after, before) == []


def test_only_what_the_edit_added_is_judged():
    # words the caption had already are not the edit's fault
    caption = "a sign that says please come back, on a shop door"
    assert problems(caption + ", at night", caption) == []


def test_a_synonym_added_again_is_one_object_twice():
    assert duplicated(STREET + ", with a blue bike", STREET) == "bike"
    assert duplicated(STREET + ", with a cat", STREET) is None


def test_a_second_one_asked_for_is_not_a_duplicate():
    two = "a photo of a red bicycle and a blue bicycle leaning on a brick wall"
    assert problems(two, STREET, "add another bicycle, a blue one") == []
    assert problems(two, STREET, "make the bicycle blue")
