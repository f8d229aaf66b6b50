"""The distributed mode for real: a private Redis and PostgreSQL, two `mtedit worker`
processes on a tiny model, a scripted chat of several conversations through the queue,
and one worker killed with SIGKILL in the middle of a job."""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import ChatSession
from editing_core.testing import tiny_random_folder
from mtedit.servers import stop
from mtedit.settings import Settings
from storage import Store
from storage.cli import run as mtedit
from storage.doctor import check
from toyworld import world as W

ROOT = Path(__file__).resolve().parents[3]
SCENES = [W.Scene(bg, (W.Obj("circle", "red", "small", 3), W.Obj("square", "blue", "large", 5)))
          for bg in ("green", "white", "yellow")]


def png(scene) -> bytes:
    buf = io.BytesIO()
    W.render(scene).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def model_dir():
    return tiny_random_folder()


@pytest.fixture
def deployment(redis_url, postgres_url, tmp_path, model_dir):
    """The environment an app server and its workers share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    env.update(MTEDIT_QUEUE_URL=redis_url, MTEDIT_QUEUE_NAME=f"q{secrets.token_hex(4)}",
               MTEDIT_DATABASE_URL=postgres_url, MTEDIT_DATA_DIR=str(tmp_path / "shared"),
               MTEDIT_MODEL=str(model_dir), MTEDIT_DEVICE="cpu", MTEDIT_DTYPE="float32",
               MTEDIT_MAX_SIDE="64", MTEDIT_JOB_STALE_S="3", OMP_NUM_THREADS="1",
               HF_HUB_OFFLINE="1")
    Store.open(postgres_url, tmp_path / "shared").close()  # migrated once, before the workers
    workers: list[subprocess.Popen] = []

    def start_workers(*names: str) -> list[subprocess.Popen]:
        """Start the workers together; return once each says it is ready."""
        procs = []
        for name in names:
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "mtedit", "worker", "--name", name],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        workers.extend(procs)
        deadline = time.monotonic() + 120
        for name, proc in zip(names, procs):
            while "ready." not in (tmp_path / f"{name}.log").read_text():
                assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.2)
        return procs

    yield env, start_workers
    stop(*workers, grace=20)


def test_a_worker_with_the_wrong_blob_folder_refuses_to_start(deployment, tmp_path):
    env, _ = deployment
    bad = {**env, "MTEDIT_DATA_DIR": str(tmp_path / "local")}
    with Store.open(env["MTEDIT_DATABASE_URL"], env["MTEDIT_DATA_DIR"]) as store:
        store.add_upload(store.create_conversation().id, png(SCENES[0]), "a photo")
    proc = subprocess.run([sys.executable, "-m", "mtedit", "worker"], cwd=ROOT, env=bad,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1 and "MTEDIT_DATA_DIR" in proc.stderr, proc.stderr


def test_chats_through_two_workers_survive_a_worker_killed_mid_job(deployment):
    env, start_workers = deployment
    workers = start_workers("w1", "w2")
    settings = Settings.from_env(env)
    session = ChatSession.open(settings)
    assert type(session.executor).__name__ == "QueueExecutor"
    store = session.store
    convs, jobs = [], []
    for i, scene in enumerate(SCENES):
        session.new_conversation(f"chat {i}")
        session.send(W.caption(scene), files=[("toy.png", png(scene))])
        session.update_settings(preset="rf", steps=30)
        [first] = session.send("make it vintage", wait=False)  # 2 steps
        [second] = session.send("make the circle blue", wait=False)  # queued behind it
        assert first.kind == "queued" and second.kind == "queued", (first, second)
        assert second.text.startswith("Queued after")
        convs.append(session.conversation_id)
        jobs += [first.job_id, second.job_id]
    # kill the worker that runs a job, in the middle of it
    pids = {p.pid: p for p in workers}
    victim = None
    deadline = time.monotonic() + 240
    while victim is None:
        assert time.monotonic() < deadline, "no job started"
        for job in store.list_jobs(status="running"):
            pid = int((job.worker or ":0").rsplit(":", 1)[1])
            # a job with one queued behind it, so the kill also shows what happens to that
            if pid in pids and job.done > 0 and store.followers(job.id):
                victim, killed_job = pids[pid], job.id
                break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for job_id in jobs:
        view = session.wait(job_id, timeout=300)
        assert view.status != "running" and view.status != "queued", view
    survivor = next(p for p in workers if p is not victim)
    assert survivor.poll() is None
    assert session.job(killed_job).status == "interrupted"
    assert not store.list_jobs(status=("queued", "running"))
    # every conversation is complete or says which step did not finish; "continue" resumes
    for cid in convs:
        session.switch(cid)
        texts = [m.text for m in session.messages() if m.role == "assistant"]
        steps = [s["instruction"] for j in store.list_jobs(cid) if j.kind == "edit"
                 for s in j.request.get("steps", [])]
        made = [n.instruction for n in store.nodes(cid) if n.parent_id is not None]
        if any("interrupted after step" in t for t in texts):
            assert cid == store.get_job(killed_job).conversation_id
            [reply] = session.send("continue")
            assert reply.kind == "edit", reply.text
            made = [n.instruction for n in store.nodes(cid) if n.parent_id is not None]
            assert any("did not run" in (j.error or "") for j in store.list_jobs(cid))
            assert len(made) == 2  # the interrupted plan is complete, nothing twice
        else:
            assert sorted(made) == sorted(steps) and len(made) == 3, (made, steps, texts)
        # nothing duplicated: one chain, no step twice
        nodes = store.nodes(cid)
        kids = {}
        for n in nodes:
            kids.setdefault(n.parent_id, []).append(n)
        assert all(len(v) == 1 for k, v in kids.items() if k is not None), kids
    report = check(store)
    assert not report.damaged, report.lines()
    db = ["--db", env["MTEDIT_DATABASE_URL"], "--data-dir", env["MTEDIT_DATA_DIR"]]
    assert mtedit(["doctor", *db]) == 0  # nothing missing or corrupt
    assert mtedit(["doctor", *db, "--fix", "--grace", "0"]) == 0
    assert check(store).ok  # and no orphan left once fixed
