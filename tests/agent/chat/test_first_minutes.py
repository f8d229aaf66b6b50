"""A new user's first minutes, without a model: the working grid, labels, estimates and
what the welcome says for each model."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from agent.chat import welcome
from agent.jobs import timing
from agent.jobs.spec import JobSpec
from agent.lineage import labels
from editing_core.grid import model_side, working_side
from mtedit.settings import BUNDLED_MODEL, Settings


def test_the_working_side_is_the_models_own_capped_only_when_set():
    assert model_side({"sample_size": 64}) == 64
    assert model_side(SimpleNamespace(sample_size=1024)) == 1024
    assert model_side({}) == 1024 and model_side({"sample_size": [96, 128]}) == 128
    assert working_side(64) == 64 and working_side(1024, None) == 1024
    assert working_side(1024, 768) == 768 and working_side(64, 1024) == 64
    with pytest.raises(ValueError):
        working_side(64, 0)


def test_max_side_and_threads_settings_default_to_none(monkeypatch):
    s = Settings.from_env({})
    assert s.max_side is None and s.threads is None
    s = Settings.from_env({"MTEDIT_MAX_SIDE": "512", "MTEDIT_THREADS": "3"})
    assert s.max_side == 512 and s.threads == 3
    assert Settings.from_env({"MTEDIT_MAX_SIDE": "auto"}).max_side is None


@dataclass
class N:
    id: str
    depth: int
    created_at: float


def test_labels_are_unique_and_stable_as_the_tree_grows():
    nodes = [N("r", 0, 0), N("a", 1, 1), N("b", 2, 2), N("c", 1, 3), N("d", 2, 4), N("e", 1, 5)]
    got = labels.node_labels(nodes)
    assert got == {"r": "0", "a": "1", "b": "2", "c": "1b", "d": "2b", "e": "1c"}
    more = labels.node_labels(nodes + [N("f", 0, 6)])
    assert {k: more[k] for k in got} == got and more["f"] == "0b"
    many = labels.node_labels([N(str(i), 1, i) for i in range(200)])
    assert len(set(many.values())) == 200 and many["26"] == "1aa"


class FakeBackend:
    model_id, max_side, grid, native_side = "fake-model", 64, 8, 64


def test_the_estimate_comes_from_measured_seconds_per_call_at_that_size():
    timing.forget()
    backend = FakeBackend()
    spec = JobSpec("edit", "c", steps=[{"target_prompt": "x"}] * 2, preset="mtc",
                   overrides={"steps": 8})
    est = timing.estimate(spec, backend, (4000, 3000))  # scaled to 64x48: 8x6 tokens
    assert est.calls == 36 and est.tokens == 48 and est.seconds is None
    assert timing.plan_line(est.calls, est.seconds).startswith("First edit at this size")
    timing.record(backend, 48, 1.8, 18)  # one step: 18 calls in 1.8 s
    est = timing.estimate(spec, backend, (4000, 3000))
    assert est.seconds == pytest.approx(3.6)
    assert "about 4 s (36 model calls at 0.10 s each" in timing.plan_line(36, est.seconds)
    # another size has not been measured
    assert timing.estimate(spec, backend, (64, 64)).seconds is None
    # the progress bar counts down with the same figure
    assert timing.eta(18, 36, 2.0, 0.1) == pytest.approx(1.8)
    assert timing.eta(0, 36, 0.5, None) is None and timing.eta(9, 36, 3.0, None) == 9.0
    ops = JobSpec("edit", "c", steps=[{"kind": "op", "target_prompt": "x"}])
    assert timing.estimate(ops, backend, (64, 64)).calls == 0 and timing.plan_line(0, None) == ""
    timing.forget()


def test_the_welcome_says_what_the_model_can_do():
    toy = welcome.welcome(Settings(model=str(BUNDLED_MODEL)))
    assert toy.bundled and "toy world" in toy.text and "MTEDIT_MODEL" in toy.text
    assert [s.label for s in toy.starters] == ["Try an example scene", *welcome.TOY_EDITS]
    real = welcome.welcome(Settings(model="black-forest-labs/FLUX.1-dev"))
    assert not real.bundled and "Upload a photo" in real.text
    assert all(s.kind == "send" and s.text.startswith("generate ") for s in real.starters)


def test_the_photo_note_is_for_photos_on_the_bundled_model_once():
    from agent.reading.uploads import read_upload

    toy, real = Settings(model=str(BUNDLED_MODEL)), Settings(model="/models/flux")
    photo = b"\x89PNG not really"  # only compared, never decoded
    example = read_upload(welcome.EXAMPLE_SCENE)[1]
    assert welcome.upload_notes(toy, [photo], True) == [welcome.UPLOAD_NOTE]
    assert welcome.upload_notes(toy, [photo], False) == []  # said once per conversation
    assert welcome.upload_notes(toy, [example], True) == []  # its own world
    assert welcome.upload_notes(real, [photo], True) == []


def test_the_example_edits_are_one_step_each_for_the_offline_planner():
    from agent.planning.offline import OfflinePlanner

    planner = OfflinePlanner()
    targets = []
    for text in welcome.TOY_EDITS:
        plan = planner.plan(text, welcome.EXAMPLE_CAPTION, []).plan
        assert len(plan.steps) == 1, text
        targets.append(plan.steps[0].target_prompt)
    assert "a small blue circle on the left" in targets[0]
    assert "a large blue square at the top left" in targets[1]
    assert targets[2].endswith("on a yellow background")
