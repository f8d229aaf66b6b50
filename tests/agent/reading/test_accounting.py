"""A plan must account for what the request said (agent/reading/accounting.py), and the
chat asks rather than runs one that does not."""

import pytest

from agent.planning.offline import OfflinePlanner
from agent.planning.safe import Unsure, plan_safely
from agent.reading import accounting, misuse, spelling
from agent.reading.phrasing import repeated, respell

CARDIGAN = ("a portrait of an elderly woman with silver hair and round glasses, wearing a "
            "purple cardigan and pearl earrings, smiling in front of a bookshelf")


def test_a_word_the_plan_ignored_is_named():
    after = CARDIGAN.replace("purple cardigan", "cardigan cardigan")
    assert accounting.unaccounted("cardigan in navy rather than purple", CARDIGAN, after) == [
        "navy"]
    done = CARDIGAN.replace("purple", "navy")
    assert accounting.problems("cardigan in navy rather than purple", CARDIGAN, done) == []


def test_what_the_request_takes_away_must_go():
    before = "a photo of a mountain lake with early morning mist on the water"
    assert accounting.left_in("no mist", before, before + ", in thick fog, misty") == ["mist"]
    assert accounting.left_in("no mist", before, "a photo of a mountain lake") == []
    assert accounting.left_in("lose the specs", "a man with specs", "a man") == []


def test_words_of_asking_and_recipe_keywords_need_no_place():
    before = "a photo of a dog on a beach"
    assert accounting.unaccounted("could you please make it a bit moodier", before,
                                  before + ", dimly lit", explained={"moodier"}) == []


@pytest.mark.parametrize("request_, caption", [
    ("cardigan in navy rather than purple", CARDIGAN),         # navy not used
    ("make the hat blue", "a photo of a boy in a yellow raincoat"),   # no hat
    ("make his tie green", "two men, one tall with a blue tie, one short with a red tie"),
    ("its all so dull and flat", "a photo of a boy on a pier"),        # pasted in
    ("laces yellow", "a photo of boots with red laces on a rock"),     # fine: read below
])
def test_a_misreading_is_asked_about_or_read_right(request_, caption):
    try:
        result = plan_safely(OfflinePlanner(), request_, caption)
    except Unsure:
        return
    assert "yellow laces" in result.plan.final_prompt and "red" not in result.plan.final_prompt


def test_a_fresh_short_phrase_still_runs():
    result = plan_safely(OfflinePlanner(), "sandstorm", "a photo of a desert with a cactus")
    assert "sandstorm" in result.plan.final_prompt


def test_slips_are_put_right_but_made_up_words_stay():
    assert spelling.correct("befroe the blakc and white, bluberries") == \
        "before the black and white, blueberries"
    assert spelling.correct("make him florp the wibble, scandi noir, chonky") == \
        "make him florp the wibble, scandi noir, chonky"


def test_moves_said_loosely():
    assert respell("my very first edit") == "my first edit"
    assert respell("version number four") == "version 4"
    assert respell("go back a single image") == "go back one version"
    assert repeated("undo, undo") == "undo 2 times"


@pytest.mark.parametrize("text", [
    "make him naked", "add a logo so i can list them as real airpods",
    "put a cockroach on it, im sending it to the restaurant for a refund"])
def test_edits_meant_to_deceive_or_undress_are_refused(text):
    assert "won't" in misuse.misuse(text)


@pytest.mark.parametrize("text", ["add a police car", "a nude colour lipstick", "make it real"])
def test_ordinary_edits_are_not_refused(text):
    assert misuse.misuse(text) is None
