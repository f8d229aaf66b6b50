"""Exact operations: PIL does flip, rotate, crop, resize and black and white exactly; the
chat stores them as lineage nodes of kind op with their parameters, and the next edit
starts from them."""

import io

import pytest
from PIL import Image, ImageChops

from agent import ops
from agent.planning.offline import OfflinePlanner


def picture(w=64, h=48) -> Image.Image:
    img = Image.new("RGB", (w, h), (200, 30, 30))
    img.paste((20, 40, 220), (0, 0, w // 4, h // 3))  # a blue block at the top left
    return img


def png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("text", "op"), [
    ("flip it", "flip direction=horizontal"),
    ("flip the image vertically", "flip direction=vertical"),
    ("mirror it", "flip direction=horizontal"),
    ("rotate it 90 degrees", "rotate degrees=90.0"),
    ("rotate it left", "rotate degrees=270.0"),
    ("rotate 45° counterclockwise", "rotate degrees=315.0"),
    ("turn it upside down", "rotate degrees=180.0"),
    ("crop it to a square", "crop ratio=1:1"),
    ("crop to 16:9", "crop ratio=16:9"),
    ("crop to 4:5 for instagram", "crop ratio=4:5"),
    ("crop the left half", "crop side=left keep=0.5"),
    ("crop off the top third", "crop side=bottom keep=0.6667"),
    ("resize to 512x512", "resize width=512 height=512"),
    ("scale it to 50%", "resize scale=0.5"),
    ("upscale 2x", "resize scale=2.0"),
    ("make it black and white", "grayscale"),
    ("convert to grayscale", "grayscale"),
    ("remove all the colour", "grayscale"),
])
def test_requests_read_as_operations(text, op):
    assert str(ops.parse_request(text)) == op


@pytest.mark.parametrize("text", ["flip her hair", "turn her into a statue", "crop her hat",
                                  "make the car white", "rotate the wheel of the car",
                                  "make it black", "resize the circle"])
def test_ordinary_edits_are_not_operations(text):
    assert ops.parse_request(text) is None


def test_operations_are_exact():
    img = picture()
    flipped = ops.apply(img, "flip direction=horizontal")
    assert flipped.getpixel((63, 0)) == (20, 40, 220) and flipped.getpixel((0, 0)) == (200, 30, 30)
    assert not ImageChops.difference(ops.apply(flipped, "flip direction=horizontal"), img).getbbox()
    rotated = ops.apply(img, "rotate degrees=90")
    assert rotated.size == (48, 64) and rotated.getpixel((47, 0)) == (20, 40, 220)  # clockwise
    assert ops.apply(img, "crop ratio=1:1").size == (48, 48)
    assert ops.apply(img, "crop ratio=16:9").size == (64, 36)
    left = ops.apply(img, "crop side=left keep=0.5")
    assert left.size == (32, 48) and left.getpixel((0, 0)) == (20, 40, 220)
    assert ops.apply(img, "resize width=32 height=20").size == (32, 20)
    grey = ops.apply(img, "grayscale")
    assert all(len(set(grey.getpixel((x, y)))) == 1 for x in range(0, 64, 7) for y in range(0, 48, 7))


@pytest.mark.parametrize("bad", ["spin", "flip direction=diagonal", "crop ratio=0:3",
                                 "crop ratio=100:1", "resize width=99999 height=10",
                                 "resize scale=0", "crop side=left keep=1.5", "crop keep"])
def test_unusable_operations_are_refused_with_a_reason(bad):
    with pytest.raises(ops.OpError):
        ops.parse(bad)


def test_a_horizontal_flip_swaps_left_and_right_in_the_caption():
    result = OfflinePlanner().plan("flip it", "a red circle on the left and a blue square on the right")
    step = result.plan.steps[0]
    assert step.kind == "op" and step.target_prompt == (
        "a red circle on the right and a blue square on the left")
    assert "exact" in step.instruction and any("exact operation" in n for n in result.notes)


@pytest.fixture
def session(tmp_path, tiny_flux_dir, tiny_backend):
    from agent import ChatSession
    from mtedit.settings import Settings
    from storage import Store

    store = Store.open(data_dir=tmp_path / "data")
    settings = Settings(data_dir=store.data_dir, model=str(tiny_flux_dir), max_side=64)
    s = ChatSession.open(settings, store=store, backend=tiny_backend)
    s.update_settings(preset="rf", steps=1)
    s.new_conversation("ops")
    yield s
    store.close()


def test_an_operation_is_a_lineage_node_and_the_next_edit_starts_from_it(session):
    img = picture()
    session.send("a red picture with a blue block on the left", files=[("p.png", png(img))])
    root = session.head_id()
    replies = session.send("flip it horizontally")
    assert replies[-1].kind == "edit", replies[-1].text
    assert "exact" in replies[-1].text.lower()
    op_node = [n for n in session.lineage() if n.kind == "op"]
    assert len(op_node) == 1 and op_node[0].parent_id == root
    node = session.store.get_node(op_node[0].id)
    assert node.params == {"op": "flip", "direction": "horizontal"}
    assert node.caption == "a red picture with a blue block on the right"
    out = Image.open(io.BytesIO(session.image_bytes(node.id))).convert("RGB")
    assert not ImageChops.difference(out, ImageOps_mirror(img)).getbbox()  # pixel-exact

    session.send("crop it to a square")
    square = session.store.get_node(session.head_id())
    assert square.kind == "op" and (square.width, square.height) == (48, 48)

    session.send("make the picture blue")  # a diffusion edit, from the cropped image
    edit = session.store.get_node(session.head_id())
    assert edit.kind == "edit" and edit.parent_id == square.id
    assert (edit.width, edit.height) == (48, 48)  # anchored to the operation's frame


def ImageOps_mirror(img):
    from PIL import ImageOps

    return ImageOps.mirror(img)
