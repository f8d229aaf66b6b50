"""Going back by words: the words that name a change, and the issue's scripted chat through
ChatSession on the tiny test model (the next edit branches from where the head landed)."""

import io
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from PIL import Image

from agent import ChatSession
from agent.reading.intents import parse_intent
from agent.reading.words import forms, matches
from editing_core import FluxBackend
from editing_core.testing import tiny_random_folder
from mtedit.settings import Settings
from storage import Store

PARK = "a man sitting on a brown bench in a park"


def test_words_match_by_lemma_and_derivation():
    assert forms("added") >= {"add"} and "dog" in forms("dogs")
    assert "snow" in forms("snowy") and "snow" in forms("snowed") and "sun" in forms("sunny")
    assert "dog" in forms("puppy")
    assert matches(["snowy"], frozenset({"snow"})) and not matches(["hat"], frozenset({"dog"}))


@pytest.mark.parametrize("text, kind", [
    ("hmm, can we return to the version before you added the dog?", "goto"),
    ("could you undo that", "undo"),
    ("the branch with the umbrella", "branch"),
    ("two edits ago", "undo"),
    ("what did you change in the last edit?", "question"),
    ("add a sign that says go back", "edit"),
])
def test_navigation_is_never_an_edit_or_a_question(text, kind):
    assert parse_intent(text, 0, has_image=True).kind == kind


@pytest.fixture(scope="module")
def model_dir():
    return tiny_random_folder()


@pytest.fixture(scope="module")
def backend(model_dir):
    return FluxBackend.from_pretrained(model_dir, device="cpu", dtype="float32", max_side=64)


@pytest.fixture
def session(tmp_path, backend, model_dir):
    store = Store.open(data_dir=tmp_path / "data")
    settings = Settings(data_dir=store.data_dir, model=str(model_dir), max_side=64)
    s = ChatSession.open(settings, store=store, backend=backend)
    s.update_settings(preset="rf", steps=1)
    yield s
    store.close()


def upload(session) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 90, 60)).save(buf, format="PNG")
    [reply] = session.send(PARK, files=[("park.png", buf.getvalue())])
    return reply.node_ids[0]


def test_the_scripted_chat_returns_before_the_dog_and_branches_from_there(session):
    root = upload(session)
    [red] = session.send("make the bench red")
    [dog] = session.send("now add a dog next to him")
    [snow] = session.send("and make it snowy")
    assert len(snow.node_ids) >= 1 and session.head_id() == snow.node_ids[-1]

    [back] = session.send("hmm, can we return to the version before you added the dog?")
    assert back.kind == "rollback" and session.head_id() == red.node_ids[0]
    [umbrella] = session.send("put a red umbrella in his hand")
    node = session.store.get_node(umbrella.node_ids[0])
    assert node.parent_id == red.node_ids[0] and "dog" not in node.caption
    assert "umbrella" in node.caption and "snow" not in node.caption

    [snowy] = session.send("actually the snowy one was nicer, go back to it")
    assert snowy.kind == "rollback" and session.head_id() == snow.node_ids[-1]
    [brown] = session.send("the one where the bench was still brown")
    assert session.head_id() == root and brown.kind == "rollback"
    session.send("the branch with the umbrella")
    assert session.head_id() == umbrella.node_ids[0]
    session.send("two edits ago")
    assert session.head_id() == root
    assert {n.id for n in session.lineage()} >= {*red.node_ids, *dog.node_ids, *snow.node_ids}


def test_ambiguous_asks_unknown_moves_nothing_and_a_following_edit_runs(session):
    upload(session)
    [red] = session.send("make the bench red")
    [dog] = session.send("add a dog next to him")
    [straw] = session.send("give him a straw hat")
    session.send("go back to before the hat")
    assert session.head_id() == dog.node_ids[0]
    [black] = session.send("give him a black hat")
    head = session.head_id()
    assert head == black.node_ids[0]

    [moved, edited] = session.send("go back to before the dog and make it sunny")
    assert moved.kind == "rollback" and edited.kind == "edit"
    sunny = edited.node_ids[-1]
    assert session.store.get_node(edited.node_ids[0]).parent_id == red.node_ids[0]

    [ask] = session.send("can we go back to the one with the hat?")
    assert ask.kind == "ask" and "straw hat" in ask.text and "black hat" in ask.text
    assert session.head_id() == sunny  # nothing moved
    [none] = session.send("go back to before the giraffe")
    assert none.kind == "error" and "giraffe" in none.text and session.head_id() == sunny
    session.send("go back to the one with the straw hat")
    assert session.head_id() == straw.node_ids[0]
    texts = [m.text for m in session.messages()]
    assert "go back to before the giraffe" not in texts  # the chat follows the head's branch
