"""One bad blob: a placeholder that says what doctor would say for that node, the rest of
the conversation (and every other conversation sharing the blob) usable; a missing
latent rebuilt from the intact image."""

import io
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from PIL import Image

from agent import ChatSession
from agent.jobs.damage import DamagedImage
from editing_core import FluxBackend
from editing_core.testing import tiny_random_folder
from mtedit.settings import Settings
from storage import Store


def png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def store(tmp_path):
    s = Store.open(data_dir=tmp_path / "data")
    yield s
    s.close()


def chat(store, backend=None, model=None):
    settings = Settings(data_dir=store.data_dir, max_side=64, **({"model": str(model)} if model else {}))
    return ChatSession.open(settings, store=store, backend=backend)


def test_a_corrupt_image_blob_becomes_a_placeholder_and_the_rest_works(store):
    a = chat(store)
    a.new_conversation("first")
    red = a.send("a red square", files=[("r.png", png((200, 0, 0)))])[-1].node_ids[0]
    green = a.send("a green square", files=[("g.png", png((0, 200, 0)))])[-1].node_ids[0]
    b = chat(store)
    b.new_conversation("second, same photo")
    shared = b.send("a red square again", files=[("r.png", png((200, 0, 0)))])[-1].node_ids[0]
    path = store.blobs.path(store.get_node(red).image_sha256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    for session, node in ((a, red), (b, shared)):
        with pytest.raises(DamagedImage, match="corrupt.*mtedit doctor"):
            session.thumbnail(node)
        problem = session.image_problem(node)
        assert "corrupt" in problem and node in problem and "mtedit doctor" in problem
        assert [n.id for n in session.lineage()]  # the lineage still lists every node
        assert session.messages()
    assert a.image_problem(green) is None
    assert Image.open(io.BytesIO(a.thumbnail(green))).size[0] > 0
    replies = a.send("show the history")
    assert replies[-1].kind == "history"
    store.blobs.path(store.get_node(green).image_sha256).unlink()
    assert "missing" in a.image_problem(green)


@pytest.fixture(scope="module")
def backend():
    return FluxBackend.from_pretrained(tiny_random_folder(), device="cpu", dtype="float32",
                                       max_side=64)


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_a_missing_latent_is_rebuilt_from_the_intact_image(store, backend, how):
    s = chat(store, backend, tiny_random_folder())
    s.update_settings(preset="rf", steps=1)
    up = s.send("a red circle on a green background",
                files=[("c.png", png((30, 160, 30)))])[-1].node_ids[0]
    first = s.send("make the circle blue")[-1]
    assert first.kind == "edit", first.text
    for node_id in (up, first.node_ids[-1]):
        node = store.get_node(node_id)
        if node.latent_sha256:
            path = store.blobs.path(node.latent_sha256)
            if how == "missing":
                path.unlink()
            else:
                path.write_bytes(b"not a latent any more")
    reply = s.send("make the circle yellow")[-1]
    assert reply.kind == "edit", reply.text
    for node_id in (up, first.node_ids[-1], reply.node_ids[-1]):
        node = store.get_node(node_id)
        if node_id != up or node.latent_sha256:
            assert store.read_latent(node) is not None  # rebuilt and stored again
