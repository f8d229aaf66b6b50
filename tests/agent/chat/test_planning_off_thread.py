"""With an LLM planner, send() returns at once: the page shows "planning..." (the job's
stage) and then the plan; the edit runs when the plan is ready."""

import io
import threading
import time

import pytest
from PIL import Image

from agent.planning.offline import OfflinePlanner

CAPTION = "a small red circle on the left, on a green background"


class SlowPlanner:
    """Stands in for an LLM planner that takes its time."""

    name = "slow-llm"

    def __init__(self, delay=1.5):
        self.delay, self.release = delay, threading.Event()

    def plan(self, request, caption, history=()):
        self.release.wait(self.delay)
        return OfflinePlanner().plan(request, caption, history)


@pytest.fixture
def session(tmp_path, tiny_flux_dir, tiny_backend):
    from agent import ChatSession
    from mtedit.settings import Settings
    from storage import Store

    store = Store.open(data_dir=tmp_path / "data")
    settings = Settings(data_dir=store.data_dir, model=str(tiny_flux_dir), max_side=64)
    s = ChatSession.open(settings, store=store, backend=tiny_backend, planner=SlowPlanner())
    s.update_settings(preset="rf", steps=1)
    s.new_conversation("slow")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(buf, format="PNG")
    s.send(CAPTION, files=[("g.png", buf.getvalue())])
    yield s
    s.planner.release.set()
    store.close()


def test_send_returns_before_the_plan_and_the_edit_follows(session):
    t0 = time.perf_counter()
    replies = session.send("make the circle blue", wait=False)
    assert time.perf_counter() - t0 < 1.0  # the planner alone takes 1.5 s
    (reply,) = replies
    assert reply.kind == "queued" and reply.plan is None and "Planning" in reply.text
    job = session.executor.progress(reply.job_id)
    assert job.stage == "planning"
    cid = session.conversation_id
    assert session.store.plans(cid) == []  # not yet
    session.planner.release.set()
    done = session.executor.wait(reply.job_id, timeout=120)
    assert done.status == "done", done.error
    (plan,) = session.store.plans(cid)
    assert "blue circle" in plan.steps[0]["target_prompt"]
    head = session.store.get_node(session.head_id())
    assert head.kind == "edit" and "blue circle" in head.caption


def test_words_no_planner_can_use_are_refused_at_once(session):
    (reply,) = session.send("make the circle blue " * 30, wait=False)
    assert reply.kind == "error" and "500" in reply.text
    assert session.store.list_jobs(session.conversation_id) == []
