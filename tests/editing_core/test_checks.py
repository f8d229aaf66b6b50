"""What came back from an edit: the share of changed pixels inside and outside a region,
the reader a model folder names (an installed module only), and the verdict."""

from __future__ import annotations

import base64
import io
import json
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from editing_core import checks
from toyworld import MODEL_DIR
from toyworld import world as W

SCENE = W.Scene("green", (W.Obj("circle", "red", "small", 3), W.Obj("square", "blue", "large", 5)))


def _image(box=None, colour=(200, 30, 30), size=(64, 64)) -> Image.Image:
    img = Image.new("RGB", size, (40, 170, 60))
    if box:
        ImageDraw.Draw(img).rectangle(box, fill=colour)
    return img


def test_pixel_change_inside_and_outside_a_region():
    before, after = _image(), _image((0, 0, 15, 15))  # a 16x16 corner changed: 1/16
    whole = checks.pixel_change(before, after)
    assert whole["inside"] == pytest.approx(1 / 16) and whole["outside"] is None
    mask = np.zeros((64, 64), bool)
    mask[:32, :32] = True  # the region: the top-left quarter, holding the whole change
    inside = checks.pixel_change(before, after, mask)
    assert inside["inside"] == pytest.approx(0.25) and inside["outside"] == 0.0
    assert inside["region"] == pytest.approx(0.25)
    # The same region as PNG bytes, as base64 text, at another size, or as a Region-like.
    img = Image.fromarray(mask.astype(np.uint8) * 255, "L").resize((128, 128))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    for given in (buf.getvalue(), base64.b64encode(buf.getvalue()).decode(),
                  type("Region", (), {"mask": mask})()):
        assert checks.pixel_change(before, after, given)["inside"] == pytest.approx(0.25)
    outside = checks.pixel_change(before, after, ~mask)
    assert outside["inside"] == 0.0 and outside["outside"] == pytest.approx(0.25)
    with pytest.raises(ValueError):
        checks.as_mask("not base64 !", (64, 64))


def test_the_bundled_model_names_its_reader():
    name, read = checks.model_reader(MODEL_DIR)
    assert name == "toyworld.reader" and callable(read)
    assert checks.model_reader(None) is None


def _folder(tmp_path, reader: str):
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "mtedit.json").write_text(json.dumps({"reader": reader}))
    return folder


def test_a_reader_is_an_installed_module_never_code_from_the_folder(tmp_path, monkeypatch):
    assert checks.model_reader(_folder(tmp_path, "no_such_module_anywhere")) is None
    assert checks.model_reader(_folder(tmp_path, "../../etc/passwd")) is None
    # A module that lives inside the model folder is refused even when importable.
    folder = _folder(tmp_path, "planted_reader")
    (folder / "planted_reader.py").write_text("def read(image, prompt, source=None):\n"
                                              "    return {'asked': [], 'kept': []}\n")
    monkeypatch.syspath_prepend(str(folder))
    assert checks.model_reader(folder) is None
    sys.modules.pop("planted_reader", None)


def test_verdicts():
    reader = checks.model_reader(MODEL_DIR)
    before = W.render(SCENE)
    add = W.add(SCENE, W.Obj("triangle", "white", "small", 1))
    prompt, source = W.caption(add.after), W.caption(SCENE)
    hit = checks.check_result(W.render(add.after), prompt, before=before, source_prompt=source,
                              reader=reader)
    assert hit["verdict"] == "hit" and hit["reader"] == "toyworld.reader"
    assert 0 < hit["change"]["inside"] < 0.1
    missed = checks.check_result(before, prompt, before=before, source_prompt=source,
                                 reader=reader)
    assert missed["verdict"] == "missed" and missed["hardly_changed"]
    assert missed["asked"][0]["seen"] == "nothing at the top"
    # Asked met, but the square went: more changed than asked.
    worse = W.Scene("green", (W.Obj("circle", "red", "small", 3),
                              W.Obj("triangle", "white", "small", 1)))
    more = checks.check_result(W.render(worse), prompt, before=before, source_prompt=source,
                               reader=reader)
    assert more["verdict"] == "changed_more"
    # No reader: only the pixels. A change is unchecked, no change at all a miss.
    plain = checks.check_result(W.render(add.after), prompt, before=before)
    assert plain["verdict"] == "unchecked" and plain["reader"] is None and not plain["read"]
    assert checks.check_result(before, prompt, before=before)["verdict"] == "missed"
    # A reader that fails leaves the result unchecked, never fails the edit.
    broken = ("broken", lambda *a: 1 / 0)
    assert checks.check_result(W.render(add.after), prompt, before=before,
                               reader=broken)["verdict"] == "unchecked"
    # A generated image: everything in the prompt was asked.
    made = checks.check_result(W.render(SCENE), W.caption(SCENE), reader=reader)
    assert made["verdict"] == "hit" and len(made["asked"]) == 3 and made["change"] is None
    json.dumps(made)  # the node's check is JSON


def test_much_change_outside_the_region_is_said():
    reader = checks.model_reader(MODEL_DIR)
    before = W.render(SCENE)
    edit = W.recolor(SCENE, 3, "blue")
    after = W.render(W.Scene("yellow", edit.after.objects))  # the background changed too
    region = edit.changed_mask()
    got = checks.check_result(after, W.caption(edit.after), before=before,
                              source_prompt=W.caption(SCENE), region=region, reader=None)
    assert got["change"]["outside"] > checks.OUTSIDE and got["verdict"] == "changed_more"
    got = checks.check_result(W.render(edit.after), W.caption(edit.after), before=before,
                              source_prompt=W.caption(SCENE), region=region, reader=reader)
    assert got["verdict"] == "hit" and got["change"]["outside"] == 0.0
