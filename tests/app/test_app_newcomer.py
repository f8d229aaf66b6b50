"""The page a newcomer meets, through AppTest on the bundled model: a result that missed
says so and offers try again / go back; titles and the sidebar; refusals that are never
shown as sent and give the text back; a click on the tree opens the image's actions;
undone turns stay in the chat, greyed."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.lineage_tree.testing import click, drawn

APP = str(Path(__file__).resolve().parents[2] / "chat_app.py")
TREE = "lineage-tree"
pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    from mtedit.settings import BUNDLED_MODEL

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MTEDIT_MODEL", str(BUNDLED_MODEL))
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MTEDIT_DEVICE", "cpu")
    monkeypatch.setenv("MTEDIT_PLANNER", "offline")
    for key in ("MTEDIT_CONFIG", "MTEDIT_MAX_SIDE"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path / "data"


def open_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, text: str, files=()) -> AppTest:
    box = at.chat_input[0].set_value(text)
    for name, data in files:
        box.upload(name, data, "image/png")
    return run(at)


def wait_idle(at: AppTest, timeout: float = 90) -> AppTest:
    deadline = time.monotonic() + timeout
    while at.get("progress"):
        assert time.monotonic() < deadline, "the edit did not finish"
        time.sleep(0.5)
        run(at)
    return at


def keyed(at: AppTest, prefix: str) -> list:
    return [b for b in at.button if (b.key or "").startswith(prefix)]


def tree(at: AppTest) -> list[dict]:
    return drawn(at, TREE)["nodes"]


def shown(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts + [c.value for c in at.caption])


def user_bubbles(at: AppTest) -> list[str]:
    return [m.markdown[0].value for m in at.chat_message if m.name == "user" and m.markdown]


def scene(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Try an example scene").click()
    return run(at)


def test_a_missed_edit_says_so_and_offers_try_again_and_go_back(env):
    at = scene(open_app())
    send(at, "add a small white triangle at the top")
    wait_idle(at)
    said = " ".join(w.value for w in at.warning)
    assert "Missed: the result does not show what was asked" in said
    assert "I looked for a small white triangle at the top" in said
    assert "Done" not in said.split("\n")[0]
    [retry], [back] = keyed(at, "retry-"), keyed(at, "back-")
    assert retry.label == "Try again" and back.label == "Go back to #0"
    root, missed = (n["id"] for n in tree(at))

    retry.click()
    wait_idle(run(at))
    nodes = tree(at)
    assert len(nodes) == 3 and nodes[2]["parent"] == root and nodes[2]["is_head"]
    assert "Try the edit again with another seed" in " ".join(user_bubbles(at))

    if keyed(at, "back-"):  # the second try missed too: go back from under it
        keyed(at, "back-")[-1].click()
    else:  # the second try hit: go back from the scene's own actions
        click(at, root, key=TREE)
        next(b for b in at.button if b.key == "make-head").click()
    run(at)
    assert [n["id"] for n in tree(at) if n["is_head"]] == [root]
    assert missed in [n["id"] for n in tree(at)]  # nothing was deleted


def test_a_hit_has_no_ways_on_and_says_what_it_shows(env):
    at = scene(open_app())
    next(b for b in keyed(at, "suggest-") if b.label == "make the circle blue").click()
    wait_idle(run(at))
    assert "Checked: it shows a small blue circle on the left" in shown(at)
    assert not keyed(at, "retry-") and not keyed(at, "back-")


def test_titles_and_a_sidebar_without_look_alikes(env):
    at = open_app()
    new = next(b for b in at.button if b.key == "new-conversation")
    assert new.label == "New conversation"
    new.click()
    run(at)
    scene(at)  # the example scene opens in the empty conversation it was clicked in
    convs = keyed(at, "conv-")
    assert [b.label for b in convs] == ["Example scene"]
    # "New conversation" twice in a row: one empty conversation, reused, not repeated.
    for _ in range(2):
        next(b for b in at.button if b.key == "new-conversation").click()
        run(at)
    labels = [b.label for b in keyed(at, "conv-")]
    assert labels == ["Untitled (empty)", "Example scene"]
    assert not any("New conversation" in label for label in labels)
    # A photo sent without words: the conversation takes the file's name.
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 120, 40)).save(buf, "PNG")
    send(at, "", [("beach.png", buf.getvalue())])
    assert next(b.label for b in keyed(at, "conv-")) == "beach.png"
    # Leaving an empty conversation lets it go.
    next(b for b in at.button if b.key == "new-conversation").click()
    run(at)
    assert len(keyed(at, "conv-")) == 3
    next(b for b in keyed(at, "conv-") if b.label == "Example scene").click()
    run(at)
    assert [b.label for b in keyed(at, "conv-")] == ["Example scene", "beach.png"] or \
        [b.label for b in keyed(at, "conv-")] == ["beach.png", "Example scene"]


def test_refusals_are_not_shown_as_sent_and_the_text_comes_back(env):
    at = scene(open_app())
    long = "make the circle blue " + "and very blue " * 400  # over 4,000 characters
    send(at, long)
    errors = " ".join(e.value for e in at.error)
    assert "Nothing was sent: That message is too long" in errors
    assert "Your text is back in the box below." in errors
    assert long not in user_bubbles(at) and not any(len(b) > 4000 for b in user_bubbles(at))
    box = at.chat_input[0].proto
    assert box.set_value and box.value == long.strip()

    send(at, "here is my photo", [("notes.png", b"these are my notes, not a picture")])
    errors = " ".join(e.value for e in at.error)
    assert "notes.png is not a readable image: that file is not an image mtedit can read" \
        in errors
    assert "Error" not in errors and "(" + "Unidentified" not in errors
    assert "here is my photo" not in user_bubbles(at)
    box = at.chat_input[0].proto
    assert box.set_value and box.value == "here is my photo"


def test_a_click_on_the_tree_opens_the_actions_and_undone_turns_stay_greyed(env):
    at = scene(open_app())
    assert len(at.get("bidi_component")) == 1  # the lineage is one element
    send(at, "make the circle blue")
    wait_idle(at)
    send(at, "undo")
    _root, blue = (n["id"] for n in tree(at))
    assert [n["left_behind"] for n in tree(at)] == [False, True]
    # The undone turn is still in the chat, under a note (greyed on the page: browser test).
    text = shown(at)
    assert "Undone: #1 left behind (the head is #0)" in text
    assert "make the circle blue" in user_bubbles(at)
    # A click on a thumbnail: that image's actions, in a dialog.
    click(at, blue, key=TREE)
    assert not at.exception
    assert [b.key for b in at.button if b.key in ("make-head", "fork-here")] == [
        "make-head", "fork-here"]
    assert "left behind by an undo" in shown(at)
    next(b for b in at.button if b.key == "make-head").click()
    run(at)
    assert [n["id"] for n in tree(at) if n["is_head"]] == [blue]
    assert not [b for b in at.button if b.key == "make-head"]  # the dialog closed
