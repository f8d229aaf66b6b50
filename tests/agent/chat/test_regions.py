"""Region-limited edits in the chat, on the bundled model: each step gets a region from the
first source there is (a box or mask the user marked, region words, the step's scope, the
model's automatic region); outside it the result is the stored image byte for byte; the
mask is stored with the node, checked, shown, and reused by try again; an empty region
runs nothing and says so, one over most of the picture is used and said."""

from __future__ import annotations

import io
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from PIL import Image

from agent import ChatSession
from agent.chat import welcome
from editing_core import FluxBackend
from mtedit.settings import BUNDLED_MODEL, Settings
from storage import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend():
    return FluxBackend.from_pretrained(BUNDLED_MODEL, device="cpu", dtype="float32")


def open_chat(tmp_path, backend, **settings) -> ChatSession:
    data = tmp_path / "data"
    return ChatSession.open(Settings(data_dir=data, model=str(BUNDLED_MODEL), **settings),
                            store=Store.open(data_dir=data), backend=backend)


@pytest.fixture
def chat(tmp_path, backend):
    session = open_chat(tmp_path, backend)
    welcome.start(session, welcome.Starter("Try an example scene", "scene"))
    yield session
    session.store.close()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def mask_of(chat, node_id) -> np.ndarray | None:
    data = chat.store.read_mask(node_id)
    return None if data is None else np.asarray(Image.open(io.BytesIO(data))) >= 128


def outside_is_stored_parent(chat, node_id) -> np.ndarray:
    """The node's mask, after checking that outside it the node's image is its parent's
    stored image byte for byte (and that something inside changed)."""
    node = chat.store.get_node(node_id)
    mask = mask_of(chat, node_id)
    after, before = pixels(chat.store.read_image(node)), pixels(chat.store.read_image(
        node.parent_id))
    assert mask is not None and mask.shape == after.shape[:2]
    assert (after[~mask] == before[~mask]).all()
    return mask


def test_a_local_edit_is_limited_to_where_it_acts_and_a_global_one_is_not(chat):
    assert chat.edit_settings.region == "auto"  # the bundled model's measured choice
    [reply] = chat.send("make the circle blue")
    assert reply.kind == "edit"
    mask = outside_is_stored_parent(chat, reply.node_ids[0])
    assert 0 < mask.mean() < 0.3  # the circle and its seam, not the picture
    view = chat.node(reply.node_ids[0])
    assert view.masked and view.region == pytest.approx(mask.mean(), abs=1e-3)
    check = view.check
    assert check["change"]["region"] is not None and check["change"]["outside"] == 0
    assert "0 % outside it" in reply.text
    overlay = chat.region_overlay(reply.node_ids[0], 256)
    drawn = pixels(overlay)
    assert drawn.shape[:2] == (256, 256) and ((drawn == (255, 43, 214)).all(-1)).any()
    # a wider line for small thumbnails (the lineage's): about four times the magenta
    wide = pixels(chat.region_overlay(reply.node_ids[0], 256, line=4))
    line = ((drawn == (255, 43, 214)).all(-1)).sum()
    assert ((wide == (255, 43, 214)).all(-1)).sum() > 3 * line

    [reply] = chat.send("make it more vintage")  # a look: the whole picture, no region
    assert all(mask_of(chat, n) is None for n in reply.node_ids)
    assert chat.region_overlay(reply.node_ids[0]) is None and not chat.node(
        reply.node_ids[0]).masked


def test_a_dragged_box_limits_the_edit_and_comes_before_everything_else(chat):
    [reply] = chat.send("make the square red", region=(32, 0, 64, 64))
    mask = outside_is_stored_parent(chat, reply.node_ids[0])
    expected = np.zeros((64, 64), bool)
    expected[:, 32:] = True
    assert (mask == expected).all()
    # a box over nothing is refused before anything is stored
    before = chat.store.counts()
    [refused] = chat.send("make the square red", region=(10, 10, 10, 40))
    assert refused.kind == "error" and refused.message_id is None
    assert "covers no pixel" in refused.text and chat.store.counts() == before
    # nor does a box drawn on this image go with new photos (it is not theirs)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 200)).save(buf, "PNG")
    [refused] = chat.send("a blue picture", [("blue.png", buf.getvalue())],
                          region=(0, 0, 32, 32))
    assert refused.kind == "error" and "send the photos first" in refused.text
    assert chat.store.counts() == before


def test_a_box_marked_with_a_request_the_chat_asks_about_goes_with_the_answer(chat):
    [asked] = chat.send("make the square red and make him florp the wibble", region=(32, 0, 64, 64))
    assert asked.kind == "ask" and "1. edit: only" in asked.text
    [done] = chat.send("1")
    assert done.kind == "edit"
    mask = outside_is_stored_parent(chat, done.node_ids[0])
    expected = np.zeros((64, 64), bool)
    expected[:, 32:] = True
    assert (mask == expected).all()


def test_a_drawn_mask_of_another_size_is_brought_to_the_image(chat):
    drawn = Image.new("L", (128, 128), 0)
    drawn.paste(255, (0, 0, 64, 128))  # the left half, drawn on a larger canvas
    buf = io.BytesIO()
    drawn.save(buf, "PNG")
    [reply] = chat.send("make the circle yellow", region=buf.getvalue())
    mask = outside_is_stored_parent(chat, reply.node_ids[0])
    assert mask[:, :32].all() and not mask[:, 32:].any()


def test_region_words_name_an_area_or_things(chat):
    [reply] = chat.send("make the left half darker")  # a recipe, global, but the words win
    mask = outside_is_stored_parent(chat, reply.node_ids[0])
    assert mask[:, :32].all() and not mask[:, 32:].any()

    [reply] = chat.send("make everything except the square black and white")
    node = chat.store.get_node(reply.node_ids[0])
    assert node.kind == "op"  # exact black and white, kept to everything but the square
    mask = outside_is_stored_parent(chat, node.id)
    after = pixels(chat.store.read_image(node))
    assert 0.5 < mask.mean() < 0.95 and not mask[20:44, 44:60].all()  # the square is spared
    inside = after[mask]
    assert (inside[:, 0] == inside[:, 1]).all() and (inside[:, 1] == inside[:, 2]).all()

    before = chat.store.counts()["image_nodes"]
    [reply] = chat.send("make only the dog green")
    assert reply.kind == "error" and "could not find \"dog\"" in reply.text
    assert "nothing was run" in reply.text
    assert chat.store.counts()["image_nodes"] == before


def test_nothing_to_change_runs_nothing_and_most_of_the_picture_is_said(chat):
    head = chat.head_id()
    [reply] = chat.send("make the circle red")  # it is red already: the model finds no place
    assert reply.node_ids == () and chat.head_id() == head
    assert "Nothing was changed" in reply.text
    assert "I could not find what to change, so nothing was run" in reply.text
    assert "drawing a box" in reply.text

    [reply] = chat.send("make the background yellow")
    mask = outside_is_stored_parent(chat, reply.node_ids[0])
    assert mask.mean() > 0.6
    assert f"covers most of the picture ({100 * mask.mean():.0f} %)" in reply.text


def test_try_again_reuses_the_region_of_the_first_try(chat):
    [first] = chat.send("make the circle blue")
    [again] = chat.try_again(first.message_id, wait=True)
    assert again.kind == "edit" and again.node_ids != first.node_ids
    a, b = (chat.store.get_node(r.node_ids[0]) for r in (first, again))
    assert a.seed != b.seed and a.mask_sha256 == b.mask_sha256 and b.mask_sha256
    outside_is_stored_parent(chat, b.id)


def test_the_region_mode_can_be_turned_off(tmp_path, backend, monkeypatch):
    chat = open_chat(tmp_path, backend)
    welcome.start(chat, welcome.Starter("Try an example scene", "scene"))
    chat.update_settings(region="none")
    [reply] = chat.send("make the circle blue")
    assert mask_of(chat, reply.node_ids[0]) is None
    [reply] = chat.send("make the left half darker")  # what the user names still counts
    assert mask_of(chat, reply.node_ids[0]) is not None
    with pytest.raises(ValueError, match="region must be one of none, auto"):
        chat.update_settings(region="sky")
    monkeypatch.setenv("MTEDIT_REGION", "none")
    other = open_chat(tmp_path / "other", backend, region=Settings.from_env().region)
    assert other.edit_settings.region == "none"
