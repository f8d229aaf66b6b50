"""A newcomer's session on the bundled model: every result is checked and the reply says
what came back (a miss as a miss, with try again and go back); titles come from the
first request or upload; an empty conversation is reused or let go; an undo keeps the
undone turns in view."""

from __future__ import annotations

import io
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from PIL import Image

from agent import ChatSession
from agent.chat import welcome
from editing_core import FluxBackend
from mtedit.settings import BUNDLED_MODEL, Settings
from storage import Store

pytestmark = pytest.mark.slow
TRIANGLE = "add a small white triangle at the top"


@pytest.fixture(scope="module")
def backend():
    return FluxBackend.from_pretrained(BUNDLED_MODEL, device="cpu", dtype="float32")


@pytest.fixture
def chat(tmp_path, backend):
    store = Store.open(data_dir=tmp_path / "data")
    # edits that may change the whole picture (the checks of region-limited edits, the
    # bundled model's default: tests/agent/chat/test_regions.py)
    session = ChatSession.open(Settings(data_dir=tmp_path / "data", model=str(BUNDLED_MODEL),
                                        region="none"), store=store, backend=backend)
    yield session
    store.close()


def scene(chat) -> str:
    welcome.start(chat, welcome.Starter("Try an example scene", "scene"))
    return chat.head_id()


def test_a_missed_edit_is_said_with_try_again_and_go_back(chat):
    root = scene(chat)
    [reply] = chat.send(TRIANGLE)
    assert reply.kind == "edit"
    text = reply.text
    assert text.startswith("Missed: the result does not show what was asked"), text
    assert "I looked for a small white triangle at the top, but I see" in text
    assert "Try again (another seed), or go back to #0" in text
    assert not text.startswith("Done")
    missed = chat.node(reply.node_ids[0])
    check = chat.lineage()[-1].check
    assert check["verdict"] == "missed" and check["reader"] == "toyworld.reader"
    assert check["asked"][0]["what"] == "a small white triangle at the top"
    assert 0 < check["change"]["inside"] <= 1

    # Try again: the same step from the same image with another seed; both stay.
    [again] = chat.try_again(reply.message_id, wait=True)
    assert again.kind == "edit" and again.node_ids
    second = chat.node(again.node_ids[0])
    assert second.parent_id == missed.parent_id == root and second.seed != missed.seed
    assert second.instruction == missed.instruction
    assert again.text.startswith(("Missed:", "Done:"))
    assert chat.messages()[-2].text.startswith("Try the edit again with another seed")
    assert [n.id for n in chat.lineage() if n.parent_id == root] == [missed.id, second.id]

    # Go back: the head returns to the image before it; nothing is deleted.
    assert chat.set_head(root).kind == "rollback"
    assert chat.head_id() == root and len(chat.lineage()) == 3


def test_try_again_typed_is_the_button_while_the_result_is_the_head(chat):
    root = scene(chat)
    [first] = chat.send(TRIANGLE)
    made = first.node_ids[0]
    [again] = chat.send("can you try that again please")
    assert again.kind == "edit" and again.node_ids and again.node_ids[0] != made
    assert chat.node(again.node_ids[0]).parent_id == root
    assert chat.messages()[-2].text.startswith("Try the edit again with another seed")
    # once the head has moved away from the newest result, the words are not a retry of it
    chat.set_head(root)
    before = len(chat.lineage())
    [reply] = chat.send("try again")
    assert reply.kind != "edit" and len(chat.lineage()) == before


def test_a_hit_says_what_it_shows_and_how_much_changed(chat):
    scene(chat)
    [reply] = chat.send("make the circle blue")
    assert reply.text.startswith("Done: 1 step")
    assert "Checked: it shows a small blue circle on the left;" in reply.text
    assert "of the image changed" in reply.text and "Try again" not in reply.text
    assert chat.try_again("no-such-message")[0].kind == "error"


def test_titles_come_from_the_first_request_or_upload(chat):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 170, 60)).save(buf, "PNG")
    chat.new_conversation()
    assert chat.conversations()[0].title == ""  # untitled until something is sent
    chat.send("", files=[("holiday.png", buf.getvalue())])
    assert chat.conversations()[0].title == "holiday.png"
    chat.new_conversation()
    chat.send("a green background", files=[("x.png", buf.getvalue())])
    assert chat.conversations()[0].title == "a green background"
    first = chat.conversation_id
    chat.send("make the background blue")  # a later request keeps the title
    assert [c.title for c in chat.conversations() if c.id == first] == ["a green background"]


def test_an_empty_conversation_is_reused_or_let_go(chat):
    empty = chat.new_conversation()
    # The example scene opens in the empty conversation it was clicked in.
    scene(chat)
    assert chat.conversation_id == empty
    assert [c.title for c in chat.conversations()] == ["Example scene"]
    # Once something is in it, a fresh start is a new conversation.
    fresh = chat.start_fresh()
    assert fresh != empty and chat.start_fresh() == fresh  # still empty: the same one
    # Leaving an empty conversation lets it go; one with something in it stays.
    assert not chat.discard_if_empty(empty)
    assert chat.discard_if_empty(fresh) and chat.conversation_id is None
    assert [c.id for c in chat.conversations()] == [empty]
    assert not chat.discard_if_empty("no-such-conversation")


def test_undone_turns_stay_in_the_chat_marked_left_behind(chat):
    scene(chat)
    chat.send("make the circle blue")
    chat.send("make the background yellow")
    chat.send("undo")
    nodes = chat.lineage()
    assert [n.left_behind for n in nodes] == [False, False, True]
    behind = [m for m in chat.messages() if m.left_behind]
    assert [m.role for m in behind] == ["user", "assistant"]
    assert behind[0].text == "make the background yellow"
    assert behind[1].node_ids == (nodes[2].id,)
    texts = [m.text for m in chat.messages()]
    # In the order they happened: the undone turn before the undo that left it.
    assert texts.index("make the background yellow") < texts.index("undo")
    chat.send("undo")
    assert [n.left_behind for n in chat.lineage()] == [False, True, True]
    # An edit from the head starts a new branch: nothing is left behind on it any more.
    chat.send("make the circle blue")  # the head is the scene: a sibling of the first edit
    assert not any(n.left_behind for n in chat.lineage())
    assert not any(m.left_behind for m in chat.messages())
