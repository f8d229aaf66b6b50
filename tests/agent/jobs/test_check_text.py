"""What the chat says about a result's check, for each verdict (no model needed), and the
runner recording a check on every node it makes."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from PIL import Image

from agent.jobs.executor import Executor
from agent.jobs.job_text import check_text
from agent.jobs.spec import JobSpec
from storage import Store
from storage.testing import make_png

ASKED = {"what": "a small white triangle at the top", "met": False, "seen": "nothing at the top"}
LOST = {"what": "a small red circle on the left", "met": False, "seen": "nothing on the left"}
CHANGE = {"inside": 0.31, "outside": None, "region": None, "mean": 0.1}


def test_each_verdict_in_words():
    missed = check_text({"verdict": "missed", "asked": [ASKED], "kept": [LOST],
                         "change": CHANGE, "reader": "toyworld.reader", "read": True})
    assert missed == ("It missed: I looked for a small white triangle at the top, but I see "
                      "nothing at the top. It also changed what should have stayed: the small "
                      "red circle on the left is gone.")
    hit = check_text({"verdict": "hit", "asked": [{**ASKED, "met": True}], "kept": [],
                      "change": CHANGE, "reader": "toyworld.reader", "read": True})
    assert hit == "Checked: it shows a small white triangle at the top; 31 % of the image changed."
    more = check_text({"verdict": "changed_more", "asked": [{**ASKED, "met": True}],
                       "kept": [LOST], "change": CHANGE, "reader": "r", "read": True})
    assert more == ("It shows a small white triangle at the top, but it changed more than "
                    "asked: the small red circle on the left is gone.")
    region = {"inside": 0.5, "outside": 0.2, "region": 0.1, "mean": 0.1}
    outside = check_text({"verdict": "changed_more", "asked": [], "kept": [], "change": region,
                          "reader": None, "read": False})
    assert outside == ("But it changed more than asked: 50 % of the region changed, 20 % "
                       "outside it.")
    none = check_text({"verdict": "unchecked", "asked": [], "kept": [], "change": CHANGE,
                       "reader": None, "read": False})
    assert none == ("Not checked (this model has no reader for its pictures); 31 % of the "
                    "image changed.")
    same = check_text({"verdict": "missed", "asked": [], "kept": [],
                       "change": {**CHANGE, "inside": 0.001}, "reader": None, "read": False})
    assert same == "It missed: the image hardly changed."
    assert check_text(None) == ""


class FlatBackend:
    """Each edit returns a flat image of a new colour."""

    model_id = "scripted"  # not a folder: no reader

    def __init__(self):
        self.n = 0

    def encode_image(self, img, max_side):
        return torch.zeros(1, 4, 2, 2)

    def edit(self, latent, source_prompt, target_prompt, *, seed, progress, cancel, **kw):
        self.n += 1
        progress(1, 1, "sample")
        return SimpleNamespace(image=Image.new("RGB", (8, 8), (self.n * 60, 0, 0)),
                               latent=torch.zeros(1, 4, 2, 2), params={}, seed=seed,
                               timings={})


def steps(*targets):
    return [{"instruction": f"step to {t}", "target_prompt": t, "strength": 0.5} for t in targets]


def test_the_runner_records_a_check_on_every_node_and_the_reply_offers_the_ways_on(tmp_path):
    with Store.open(data_dir=tmp_path) as store:
        cid = store.create_conversation("t").id
        base = store.add_upload(cid, make_png(seed="base"), "a red circle")
        ex = Executor(store, FlatBackend())
        job_id = ex.submit(JobSpec("edit", cid, steps=steps("a blue circle", "a green circle"),
                                   base_node_id=base.id, preset="rf"))
        view = ex.wait(job_id, timeout=30)
        checks = [store.get_node(n).check_result for n in view.node_ids]
        assert [c["verdict"] for c in checks] == ["unchecked", "unchecked"]
        assert all(c["change"]["inside"] > 0.5 for c in checks)  # flat new colours
        text = store.get_message(view.message_id).text
        assert text.startswith("Done: 2 steps")
        assert text.count("Not checked (this model has no reader for its pictures)") == 2
        assert text.endswith("Try again (another seed), or go back to #0, the image before it.")


def test_a_step_with_a_region_is_measured_inside_and_outside_it(tmp_path):
    import base64
    import io

    mask = Image.new("L", (8, 8), 0)
    mask.paste(255, (0, 0, 4, 8))  # the left half may change
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    step = {**steps("a blue circle")[0], "region": base64.b64encode(buf.getvalue()).decode()}
    with Store.open(data_dir=tmp_path) as store:
        cid = store.create_conversation("t").id
        base = store.add_upload(cid, make_png(8, 8, "base"), "a red circle")
        ex = Executor(store, FlatBackend())
        view = ex.wait(ex.submit(JobSpec("edit", cid, steps=[step], base_node_id=base.id,
                                         preset="rf")), timeout=30)
        check = store.get_node(view.node_ids[0]).check_result
        assert check["change"]["region"] == 0.5
        assert check["verdict"] == "changed_more"  # a flat new image changed outside it too
        text = store.get_message(view.message_id).text
        assert "of the region changed" in text and "outside it" in text
