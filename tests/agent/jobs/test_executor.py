"""agent/jobs/executor.py and run.py on their own: the job lifecycle over a real store with
a scripted backend (no model), so what the executor itself decides is checked directly:
chained nodes, progress, the result message and its kind, failures, cancel, queueing."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from agent.jobs.executor import Executor
from agent.jobs.job_text import result_text
from agent.jobs.spec import JobSpec
from storage import Store
from storage.testing import make_png


class ScriptedBackend:
    """Answers edit/generate like FluxBackend, with a flat image per call; fails or
    blocks on the step it is told to."""

    model_id = "scripted"

    def __init__(self, fail_at: int | None = None, block: threading.Event | None = None):
        self.calls: list[tuple[str, str]] = []
        self.fail_at, self.block = fail_at, block
        self.started = threading.Event()

    def encode_image(self, img, max_side):
        return torch.zeros(1, 4, 2, 2)

    def _result(self, n: int, seed, progress, cancel):
        progress(1, 2, "invert")
        self.started.set()
        if self.block is not None:
            self.block.wait(10)
        if cancel():
            from editing_core import EditCancelled

            raise EditCancelled("cancelled")
        progress(2, 2, "sample")
        return SimpleNamespace(image=Image.new("RGB", (8, 8), (n * 40, 0, 0)),
                               latent=torch.full((1, 4, 2, 2), float(n)),
                               params={"steps": 2}, seed=seed, timings={"edit": 0.01})

    def edit(self, latent, source_prompt, target_prompt, *, seed, progress, cancel, **kw):
        self.calls.append((source_prompt, target_prompt))
        if self.fail_at == len(self.calls):
            raise ValueError("the step could not run")
        return self._result(len(self.calls), seed, progress, cancel)

    def generate(self, prompt, *, seed, progress, cancel, **kw):
        self.calls.append(("", prompt))
        return self._result(len(self.calls), seed, progress, cancel)


@pytest.fixture
def store(tmp_path):
    with Store.open(data_dir=tmp_path) as s:
        yield s


def upload(store):
    conv = store.create_conversation("t")
    return conv.id, store.add_upload(conv.id, make_png(seed="base"), "a red circle")


def steps(*targets):
    return [{"instruction": f"step to {t}", "target_prompt": t, "strength": 0.5} for t in targets]


def test_a_plan_runs_as_chained_nodes_and_reports_its_result(store):
    cid, base = upload(store)
    backend = ScriptedBackend()
    ex = Executor(store, backend)
    job_id = ex.submit(JobSpec("edit", cid, steps=steps("a blue circle", "a blue circle, snow"),
                               base_node_id=base.id, preset="rf", summary="Blue, then snow."))
    view = ex.wait(job_id, timeout=30)
    assert view.status == "done" and len(view.node_ids) == 2 and view.done == view.total == 4
    first, second = (store.get_node(n) for n in view.node_ids)
    assert first.parent_id == base.id and second.parent_id == first.id and second.depth == 2
    assert store.head(cid).id == second.id
    # each step starts from the caption of the image before it
    assert backend.calls == [("a red circle", "a blue circle"),
                             ("a blue circle", "a blue circle, snow")]
    assert store.read_latent(base.id) is not None  # the upload was encoded once and kept
    msg = store.get_message(view.message_id)
    assert msg.kind == "edit" and msg.node_ids == view.node_ids
    assert msg.text.startswith("Done: 2 steps") and "Blue, then snow." in msg.text
    job = store.get_job(job_id)
    assert job.status == "done" and job.result_node_ids == view.node_ids


def test_a_failed_step_keeps_the_finished_ones_and_says_so(store):
    cid, base = upload(store)
    ex = Executor(store, ScriptedBackend(fail_at=2))
    job_id = ex.submit(JobSpec("edit", cid, steps=steps("a blue circle", "a green circle"),
                               base_node_id=base.id, preset="rf"))
    view = ex.wait(job_id, timeout=30)
    assert view.status == "failed" and view.error == "the step could not run"
    assert len(view.node_ids) == 1 and store.head(cid).id == view.node_ids[0]
    msg = store.get_message(view.message_id)
    assert msg.kind == "error"
    assert msg.text.splitlines()[0] == "Step 2 of 2 failed: the step could not run"
    assert "The finished steps are kept" in msg.text
    assert store.get_job(job_id).status == "failed"


def test_cancel_stops_the_job_and_an_edit_queued_behind_it_does_not_run(store):
    cid, base = upload(store)
    gate = threading.Event()
    backend = ScriptedBackend(block=gate)
    ex = Executor(store, backend)
    first = ex.submit(JobSpec("edit", cid, steps=steps("a blue circle"), base_node_id=base.id,
                              preset="rf"))
    assert backend.started.wait(10)
    assert ex.active(cid).id == first
    second = ex.submit(JobSpec("edit", cid, steps=steps("a blue square"), after_job=first,
                               preset="rf"))
    assert ex.last_queued(cid)[0] == second
    assert ex.cancel(first)
    gate.set()
    assert ex.wait(first, timeout=30).status == "cancelled"
    later = ex.wait(second, timeout=30)
    assert later.status == "failed" and "did not finish" in later.error
    assert store.nodes(cid) == [store.get_node(base.id)]  # nothing was added
    assert store.get_message(ex.progress(first).message_id).kind == "error"
    assert not ex.cancel(first)  # already finished
    assert ex.active(cid) is None


def test_a_queued_edit_starts_from_the_last_node_of_the_job_before(store):
    cid, base = upload(store)
    ex = Executor(store, ScriptedBackend())
    first = ex.submit(JobSpec("edit", cid, steps=steps("a blue circle"), base_node_id=base.id,
                              preset="rf"))
    second = ex.submit(JobSpec("edit", cid, steps=steps("a blue square"), after_job=first,
                               base_caption="a blue circle", preset="rf"))
    a, b = ex.wait(first, timeout=30), ex.wait(second, timeout=30)
    assert b.status == "done" and store.get_node(b.node_ids[0]).parent_id == a.node_ids[0]


def test_generate_makes_a_new_root(store):
    conv = store.create_conversation("g")
    ex = Executor(store, ScriptedBackend())
    view = ex.wait(ex.submit(JobSpec("generate", conv.id, prompt="a red circle", preset="rf",
                                     steps=[{"instruction": "generate",
                                             "target_prompt": "a red circle"}])), timeout=30)
    node = store.get_node(view.node_ids[0])
    assert (node.kind, node.parent_id, node.caption) == ("generate", None, "a red circle")
    msg = store.get_message(view.message_id)
    assert msg.kind == "generate" and msg.text.startswith('Generated "a red circle"')


def test_result_text_for_a_cancelled_generation():
    state = SimpleNamespace(spec=JobSpec("generate", "c", prompt="x"), node_ids=[],
                            started=0.0, status="cancelled", error=None)
    assert result_text(state) == "The generation cancelled. Nothing was stored."
