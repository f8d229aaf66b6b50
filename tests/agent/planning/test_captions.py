"""agent/planning/captions.py: one concrete change rewrites only the caption item it is about."""

from __future__ import annotations

from agent.planning import captions, places

SCENE = ("a small red circle on the left and a large blue square on the right, "
         "on a green background")


def test_a_caption_reads_as_items():
    items, seps = captions.split_items(SCENE)
    assert items == ["a small red circle on the left", "a large blue square on the right",
                     "on a green background"]
    assert captions.join_items(items, seps) == SCENE


def test_colour_size_and_place_change_only_the_named_item():
    assert captions.recolor(SCENE, "the circle", "yellow") == SCENE.replace("red", "yellow")
    assert captions.resize(SCENE, "the square", "tiny") == SCENE.replace("large", "small")
    assert captions.move(SCENE, "the circle", "on the right") == SCENE.replace(
        "circle on the left", "circle on the right")
    assert places.set_background(SCENE, "blue") == SCENE.replace("green", "blue")
    assert captions.set_attribute("a cat on a sofa", "the cat", "fluffy") == "a fluffy cat on a sofa"
    # what the caption does not have cannot be changed
    assert captions.recolor(SCENE, "the triangle", "yellow") is None


def test_add_remove_and_replace_objects():
    assert captions.add_object("a dog on a beach", "a hat") == "a dog on a beach, wearing a hat"
    assert captions.add_object(SCENE, "a yellow triangle at the top") == (
        "a small red circle on the left, a large blue square on the right and a yellow "
        "triangle at the top, on a green background")
    assert captions.remove(SCENE, "the square") == (
        "a small red circle on the left, on a green background")
    assert captions.remove("a man wearing glasses in a park", "the glasses") == "a man in a park"
    assert captions.remove("a dog", "the dog") is None  # nothing would be left
    assert captions.replace_object("a black dog on a beach", "the dog", "a white cat") == (
        "a white cat on a beach")
    assert places.set_background("a dog", "a snowy forest") == "a dog, on a snowy forest background"


def test_phrases_and_articles():
    assert captions.replace_phrases("a dog in summer", {"summer": "winter", "a dog": "an owl"}) \
        == "an owl in winter"
    assert captions.replace_phrases("a dog", {}) == "a dog"
    assert captions.fix_articles("a owl and an cat") == "an owl and a cat"
    assert captions.append("a dog", "on a beach, a dog") == "a dog, on a beach"
