"""Jobs that outlive their process: a heartbeat decides what is stuck, a half-done plan
resumes where it stopped, and two processes on one conversation never run two jobs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from agent import ChatSession
from editing_core.testing import tiny_random_folder
from mtedit.settings import Settings
from storage import Store
from storage.models import JobRow, utcnow
from toyworld import world as W

ROOT = Path(__file__).resolve().parents[3]
SCENE = W.Scene("green", (W.Obj("circle", "red", "small", 3), W.Obj("square", "blue", "large", 5)))
CAPTION = W.caption(SCENE)


def png() -> bytes:
    buf = io.BytesIO()
    W.render(SCENE).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def model_dir():
    return tiny_random_folder()


@pytest.fixture
def store(tmp_path):
    s = Store.open(data_dir=tmp_path / "data")
    s.stale_s = 3.0
    yield s
    s.close()


def settings_for(store, model_dir) -> Settings:
    return Settings(data_dir=store.data_dir, model=str(model_dir), max_side=64, device="cpu",
                    dtype="float32")


def open_session(store, model_dir) -> ChatSession:
    from agent.jobs.executor import Executor

    settings = settings_for(store, model_dir)
    session = ChatSession.open(settings, store=store, executor=Executor(store, settings=settings))
    session.update_settings(preset="rf", steps=1)
    return session


def env() -> dict:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")},
            "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def test_a_job_stuck_as_running_does_not_block_the_conversation(store, model_dir):
    session = open_session(store, model_dir)
    session.send(CAPTION, files=[("toy.png", png())])
    cid = session.conversation_id
    # a job left "running" by a process that no longer beats (its PID is alive: ours)
    job = store.create_job("edit", {"steps": [{"instruction": "x", "target_prompt": "y"}]}, cid)
    store.update_job(job.id, status="running")
    with store.transaction() as s:
        s.get(JobRow, job.id).heartbeat_at = utcnow() - timedelta(seconds=60)
    assert session.active_job() is None
    assert session.job(job.id).status == "interrupted"
    [reply] = session.send("make the circle blue")
    assert reply.kind == "edit", reply.text


# argv: data_dir conversation_id model_dir ; killed by itself in the second model call
KILLED = r"""
import os, signal, sys
from agent import ChatSession
from agent.jobs.executor import Executor
from editing_core import FluxBackend
from mtedit.settings import Settings
from storage import Store

data, conv, model = sys.argv[1:4]
store = Store.open(data_dir=data)
backend = FluxBackend.from_pretrained(model, device="cpu", dtype="float32", max_side=64)
calls = []
class Dying:
    def __getattr__(self, name):
        return getattr(backend, name)
    def edit(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return backend.edit(*a, **kw)
settings = Settings(data_dir=store.data_dir, model=model, max_side=64)
session = ChatSession.open(settings, conv, store=store, executor=Executor(store, Dying()))
session.send("make it vintage")
"""


def test_a_plan_killed_between_steps_resumes_from_where_it_stopped(store, model_dir):
    session = open_session(store, model_dir)
    [up] = session.send(CAPTION, files=[("toy.png", png())])
    root = up.node_ids[0]
    proc = subprocess.run([sys.executable, "-c", KILLED, str(store.data_dir),
                           session.conversation_id, str(model_dir)], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -9, proc.stderr
    [step1] = [n for n in store.nodes(session.conversation_id) if n.parent_id == root]
    assert session.head_id() == step1.id
    plan = store.plans(session.conversation_id)[-1].steps
    assert len(plan) == 2
    time.sleep(getattr(store, "stale_s", 0) + 0.5)
    assert session.active_job() is None  # the heartbeat stopped: interrupted, not running
    said = session.messages()[-1]
    assert said.role == "assistant" and "interrupted after step 1 of 2" in said.text
    assert plan[0]["instruction"] in said.text and "continue" in said.text
    [reply] = session.send("continue")
    assert reply.kind == "edit", reply.text
    [step2] = reply.node_ids
    node = store.get_node(step2)
    # only the step that did not finish ran, on top of the finished one (no replanning)
    assert node.parent_id == step1.id and node.instruction == plan[1]["instruction"]
    assert node.caption == plan[1]["target_prompt"]
    assert len(store.nodes(session.conversation_id)) == 3
    assert session.head_id() == step2
    [again] = session.send("continue")  # nothing left to continue: an ordinary request
    assert "interrupted" not in again.text


# argv: database_url data_dir conversation_id model_dir go_file n ; one JSON line per reply
RACER = r"""
import json, os, sys, time
from pathlib import Path
from agent import ChatSession
from agent.jobs.executor import Executor
from editing_core import FluxBackend
from mtedit.settings import Settings
from storage import Store

url, data, conv, model, go, n = sys.argv[1:7]
store = Store.open(url, data)
backend = FluxBackend.from_pretrained(model, device="cpu", dtype="float32", max_side=64)
settings = Settings(data_dir=store.data_dir, model=model, max_side=64)
session = ChatSession.open(settings, conv, store=store, executor=Executor(store, backend))
words = ["make the circle blue", "make the circle red", "make the square green",
         "make the square yellow"]
Path(f"{go}.{os.getpid()}.ready").touch()
while not Path(go).exists():
    time.sleep(0.001)
for i in range(int(n)):
    for r in session.send(words[i % len(words)]):
        print(json.dumps({"kind": r.kind, "job": r.job_id, "text": r.text[:80]}), flush=True)
"""


@pytest.fixture
def shared_store(db_url, tmp_path):
    """The store two app servers share: a SQLite file, or a PostgreSQL database."""
    s = Store.open(db_url, tmp_path / "shared")
    s.stale_s = 3.0
    yield s
    s.close()


def test_two_processes_on_one_conversation_run_one_job_at_a_time(shared_store, model_dir,
                                                                  tmp_path):
    store = shared_store
    session = open_session(store, model_dir)
    session.send(CAPTION, files=[("toy.png", png())])
    cid = session.conversation_id
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, store.url, str(store.data_dir), cid,
                               str(model_dir), str(go), "20"], cwd=ROOT, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    deadline = time.monotonic() + 300
    while len(list(tmp_path.glob("go.*.ready"))) < 2:  # both have loaded the model
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "the two processes did not load the model"
        time.sleep(0.1)
    go.touch()
    replies = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        replies += [json.loads(line) for line in out.splitlines()]
    kinds = [r["kind"] for r in replies]
    assert len(replies) == 40 and set(kinds) <= {"edit", "error"}, replies
    busy = [r for r in replies if r["kind"] == "error"]
    assert all("still running" in r["text"] for r in busy), busy
    edits = [n for n in store.nodes(cid) if n.parent_id is not None]
    assert len(edits) == kinds.count("edit") >= 2
    # no branch nobody asked for: the edits form one chain
    children = {}
    for n in edits:
        children.setdefault(n.parent_id, []).append(n.id)
    assert all(len(c) == 1 for c in children.values()), children
    # every result is the reply to the request that made it
    msgs = {m.id: m for m in store.messages(cid)}
    for job in store.list_jobs(cid):
        [result] = [m for m in msgs.values() if m.role == "assistant"
                    and set(job.result_node_ids) & set(m.node_ids)]
        parent = msgs[result.parent_id]
        assert parent.role == "user" and parent.text == job.request["request"]


# argv: data_dir conversation_id model_dir ; prints "editing" in its first model call, then
# hangs there until it is killed
HANGS = r"""
import sys, time
from agent import ChatSession
from agent.jobs.executor import Executor
from editing_core import FluxBackend
from mtedit.settings import Settings
from storage import Store

data, conv, model = sys.argv[1:4]
store = Store.open(data_dir=data)
backend = FluxBackend.from_pretrained(model, device="cpu", dtype="float32", max_side=64)
class Hangs:
    def __getattr__(self, name):
        return getattr(backend, name)
    def edit(self, *a, **kw):
        print("editing", flush=True)
        time.sleep(600)
settings = Settings(data_dir=store.data_dir, model=model, max_side=64)
session = ChatSession.open(settings, conv, store=store, executor=Executor(store, Hangs()))
session.send("make it vintage")
"""


def test_after_the_app_process_is_killed_the_next_edit_runs_at_once(store, model_dir):
    """Its host is this host: the process is known to be gone, no waiting for the
    heartbeat to grow old (30 s by default)."""
    store.stale_s = 30.0
    session = open_session(store, model_dir)
    session.send(CAPTION, files=[("toy.png", png())])
    proc = subprocess.Popen([sys.executable, "-c", HANGS, str(store.data_dir),
                             session.conversation_id, str(model_dir)], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "editing"
    proc.kill()
    proc.wait()
    t0 = time.monotonic()
    [reply] = session.send("make the circle blue")
    assert reply.kind == "edit", reply.text  # not "An edit is still running"
    assert time.monotonic() - t0 < store.stale_s / 2
    said = [m.text for m in session.messages() if m.role == "assistant"]
    assert any("interrupted after step 0 of 2" in t for t in said), said


def make_job(store, cid, steps, *, base=None, after=None, owner_gone=True):
    from agent.jobs.spec import JobSpec
    from storage import owners

    spec = JobSpec("edit", cid, steps=[{"instruction": s, "target_prompt": f"a scene, {s}"}
                                       for s in steps], base_node_id=base, after_job=after,
                   request=" and ".join(steps))
    job = store.create_job("edit", spec.as_dict(), cid, exclusive=True, after=after)
    if owner_gone:
        with store.transaction() as s:
            row = s.get(JobRow, job.id)
            row.owner_host, row.owner_pid, row.owner_started = owners.machine(), 999999, 1.0
    return job


def test_an_edit_queued_behind_an_interrupted_one_says_it_did_not_run(store, model_dir):
    from agent.jobs.job_text import NOT_RUN

    session = open_session(store, model_dir)
    [up] = session.send(CAPTION, files=[("toy.png", png())])
    cid = session.conversation_id
    first = make_job(store, cid, ["make it warm", "add grain"], base=up.node_ids[0])
    store.update_job(first.id, status="running")
    behind = make_job(store, cid, ["make the circle blue"], after=first.id)
    assert session.active_job() is None  # both owners are gone: both end now
    told = {j: [m.text for m in store.messages(cid) if m.meta.get("job") == j]
            for j in (first.id, behind.id)}
    assert len(told[first.id]) == 1 and "interrupted after step 0 of 2" in told[first.id][0]
    assert len(told[behind.id]) == 1 and "did not run" in told[behind.id][0], told
    assert "continue" not in told[behind.id][0]
    assert store.get_job(behind.id).error == NOT_RUN
    [reply] = session.send("continue")  # runs the first edit's steps, from the upload
    assert reply.kind == "edit", reply.text
    made = [n.instruction for n in store.nodes(cid) if n.parent_id is not None]
    assert made == ["make it warm", "add grain"]


def test_continue_with_nothing_to_continue_from_answers_in_words(store, model_dir):
    session = open_session(store, model_dir)
    session.send(CAPTION, files=[("toy.png", png())])
    cid = session.conversation_id
    # as an older version left them: an edit that made nothing, and one queued behind it
    # told "interrupted" instead of "did not run"
    first = make_job(store, cid, ["make it warm"], base=None, owner_gone=False)
    store.update_job(first.id, status="failed", error="interrupted: gone")
    second = make_job(store, cid, ["make the circle blue"], after=first.id, owner_gone=False)
    store.update_job(second.id, status="failed", error="interrupted: gone")
    [reply] = session.send("continue")
    assert reply.kind == "error" and "nothing to continue from" in reply.text, reply.text


def test_a_request_whose_server_stopped_before_its_job_began_is_answered(store, model_dir):
    """The app server stored the person's message, then died holding the conversation
    (before the job was recorded): the message gets an answer, not silence."""
    from storage import owners

    session = open_session(store, model_dir)
    session.send(CAPTION, files=[("toy.png", png())])
    cid = session.conversation_id
    claim = store.create_job("edit", {"claim": True}, cid, exclusive=True)
    store.add_message(cid, "user", "make the circle blue")
    with store.transaction() as s:
        row = s.get(JobRow, claim.id)
        row.owner_host, row.owner_pid, row.owner_started = owners.machine(), 999999, 1.0
    assert session.active_job() is None
    last = session.messages()[-1]
    assert last.role == "assistant" and "interrupted before it started" in last.text
    assert "make the circle blue" in last.text
    [reply] = session.send("make the circle blue")
    assert reply.kind == "edit", reply.text
