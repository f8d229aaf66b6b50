"""SIGTERM in the middle of an edit: a polite stop marks the running job interrupted at
once (not when its heartbeat goes stale), so "continue" runs the rest right away. For
`mtedit chat`, a script driving the in-process executor, and `mtedit worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from agent import ChatSession
from agent.jobs.executor import Executor
from mtedit.settings import Settings
from storage import Store
from storage.jobs import INTERRUPTED

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "toy_scene.png"
CAPTION = ("a small red circle on the left and a large blue square on the right, on a green "
           "background")


class Backend:
    """Flat-image edits; the first `block` calls wait for `go` (a job caught mid-edit)."""

    model_id = "scripted"

    def __init__(self):
        self.started, self.go = threading.Event(), threading.Event()

    def encode_image(self, img, max_side=None):
        return torch.zeros(1, 4, 2, 2)

    def edit(self, latent, source_prompt, target_prompt, *, seed, progress, cancel, **kw):
        self.started.set()
        self.go.wait(30)
        progress(1, 1, "sample")
        if cancel():
            from editing_core import EditCancelled

            raise EditCancelled("cancelled")
        return SimpleNamespace(image=Image.new("RGB", (32, 32), (90, 0, 0)),
                               latent=torch.ones(1, 4, 2, 2), params={"steps": 1}, seed=seed,
                               timings={"edit": 0.01}, nfe=1)


def env(data: Path) -> dict:
    out = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    out.update(PYTHONPATH=str(ROOT), MTEDIT_DATA_DIR=str(data), MTEDIT_JOB_STALE_S="3600",
               OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return out


def wait_for_first_step(db: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    """Until the first step of the edit is stored (the second is then running)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=1)
                n = con.execute("SELECT count(*) FROM image_nodes WHERE kind = 'edit'").fetchone()
                con.close()
                if n and n[0] >= 1:
                    return
            except sqlite3.Error:
                pass
        time.sleep(0.1)
    raise AssertionError("the first step never finished")


def stopped_politely(db: Path, proc: subprocess.Popen) -> Store:
    """SIGTERM, then the store at once: the job is interrupted, not still running."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (proc.returncode, out, err)
    assert "Traceback" not in err, err
    store = Store.open(db)
    jobs = [j for j in store.list_jobs() if not j.request.get("claim")]
    assert [(j.status, j.error) for j in jobs] == [("failed", INTERRUPTED)]
    assert store.list_jobs(status=("queued", "running")) == []
    return store


def continue_at_once(store: Store) -> None:
    """"continue" is not answered "An edit is still running": the rest runs now."""
    backend = Backend()
    backend.go.set()
    conv = store.latest_conversation()
    settings = Settings(data_dir=store.data_dir, max_side=64)
    chat = ChatSession.open(settings, conv.id, store=store, backend=backend,
                            executor=Executor(store, backend, settings=settings))
    said = [m.text for m in store.messages(conv.id) if m.role == "assistant"][-1]
    assert "interrupted after step 1 of 2" in said and "continue" in said
    replies = chat.send("continue", wait=True)
    assert replies[-1].kind == "edit", replies
    assert [n.kind for n in chat.lineage()] == ["upload", "edit", "edit"]


SCRIPT = f"""settings: {{steps: 16}}
turns:
  - text: {CAPTION}
    images: [{SCENE}]
  - make it more vintage
"""


@pytest.mark.slow
def test_sigterm_stops_the_chat_command_politely(tmp_path):
    script = tmp_path / "vintage.yaml"
    script.write_text(SCRIPT)
    db = tmp_path / "data" / "mtedit.db"
    proc = subprocess.Popen([sys.executable, "-m", "mtedit", "chat", "--db", str(db),
                             "--script", str(script)], cwd=ROOT, env=env(tmp_path / "data"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_first_step(db, proc)
    with stopped_politely(db, proc) as store:
        continue_at_once(store)


DRIVER = f"""
import sys
from agent import ChatSession
from mtedit.settings import Settings
chat = ChatSession.open(Settings.from_env())
chat.new_conversation("driver")
chat.update_settings(steps=16)
chat.send({CAPTION!r}, files=[{str(SCENE)!r}])
chat.send("make it more vintage", wait=True)
print("finished")
"""


@pytest.mark.slow
def test_sigterm_stops_a_script_on_the_in_process_executor_politely(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=ROOT, env=env(data),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_first_step(data / "mtedit.db", proc)
    with stopped_politely(data / "mtedit.db", proc) as store:
        continue_at_once(store)


def test_the_worker_stops_its_job_politely_on_a_warm_shutdown(tmp_path):
    """Celery's SIGTERM (warm shutdown) asks the running job to stop at its next model
    call; the job ends interrupted, resumable, without waiting for staleness."""
    from celery import signals

    from agent.jobs import worker
    from agent.jobs.spec import JobSpec

    store = Store.open(data_dir=tmp_path / "data")
    store.stale_s = 3600
    conv = store.create_conversation("queued")
    up = store.add_upload(conv.id, _png(), "a square")
    backend = Backend()
    settings = Settings(data_dir=store.data_dir, queue_url="redis://127.0.0.1:1/0")
    executor = Executor(store, backend, settings=settings)
    steps = [{"instruction": f"step {i}", "target_prompt": f"a square, {i}"} for i in (1, 2)]
    spec = JobSpec("edit", conv.id, steps=steps, base_node_id=up.id, base_caption="a square")
    job = store.create_job("edit", request=spec.as_dict(), conversation_id=conv.id)
    saved = dict(worker._STATE)
    try:
        worker.make_worker_app(settings)
        worker._STATE.update(store=store, executor=executor)
        runner = threading.Thread(target=executor.run_job, args=(job.id,))
        runner.start()
        assert backend.started.wait(30)
        signals.worker_shutting_down.send(sender="test", sig="SIGTERM", how="Warm", exitcode=0)
        backend.go.set()
        runner.join(30)
        assert not runner.is_alive()
    finally:
        worker._STATE.clear()
        worker._STATE.update(saved)
    done = store.get_job(job.id)
    assert (done.status, done.error) == ("failed", INTERRUPTED)
    assert "interrupted" in store.messages(conv.id)[-1].text
    from agent.jobs.recovery import resumable

    assert resumable(store, conv.id).id == job.id
    store.close()


def test_a_stopped_executor_marks_its_running_job_at_once(tmp_path):
    from agent.jobs import shutdown
    from agent.jobs.spec import JobSpec

    store = Store.open(data_dir=tmp_path / "data")
    store.stale_s = 3600
    conv = store.create_conversation("c")
    up = store.add_upload(conv.id, _png(), "a square")
    backend = Backend()
    executor = Executor(store, backend, settings=Settings(data_dir=store.data_dir))
    spec = JobSpec("edit", conv.id, steps=[{"instruction": "x", "target_prompt": "a x"}],
                   base_node_id=up.id, base_caption="a square")
    job_id = executor.submit(spec)
    assert backend.started.wait(30)
    marked = shutdown.stop(executor)  # what the process does at exit
    assert [j.id for j in marked] == [job_id]
    assert store.get_job(job_id).error == INTERRUPTED  # before the edit even returned
    backend.go.set()
    executor.wait(job_id, 30)
    assert store.get_job(job_id).status == "failed"
    texts = [m.text for m in store.messages(conv.id)]
    assert sum("interrupted" in t for t in texts) == 1  # told once
    store.close()


def _png() -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


AT_EXIT = """
import sys, threading, time
from agent.jobs.executor import Executor
from agent.jobs.spec import JobSpec
from mtedit.servers import private_postgres
from mtedit.settings import Settings
from storage import Store

class Backend:
    model_id = "scripted"
    started = threading.Event()
    def encode_image(self, img, max_side=None):
        import torch
        return torch.zeros(1, 4, 2, 2)
    def edit(self, *args, progress, cancel, **kw):
        self.started.set()
        while not cancel():
            time.sleep(0.05)
        from editing_core import EditCancelled
        raise EditCancelled("stopped")

cm = private_postgres()  # kept: its end stops the server
pg = cm.__enter__()
store = Store.open(pg.create_database("atexit"), sys.argv[1])
conv = store.create_conversation("c")
up = store.add_upload(conv.id, open(sys.argv[2], "rb").read(), "a square")
backend = Backend()
executor = Executor(store, backend, settings=Settings(data_dir=store.data_dir))
executor.submit(JobSpec("edit", conv.id, steps=[{"instruction": "x", "target_prompt": "a x"}],
                        base_node_id=up.id, base_caption="a square"))
assert backend.started.wait(60)
pg.crash()  # the database stops before the process does (as at the end of a test run)
print("crashed", time.monotonic(), flush=True)
"""


def test_at_exit_a_stopped_database_is_not_waited_for_nor_a_traceback_printed(tmp_path):
    """The exit hook marks running jobs interrupted; with the database already gone it
    gives up at once with one line, instead of retrying 30 s and printing tracebacks."""
    from mtedit.servers import ServerMissing, private_postgres

    try:
        with private_postgres():
            pass
    except ServerMissing:
        pytest.skip("PostgreSQL is not installed")
    image = tmp_path / "up.png"
    image.write_bytes(_png())
    proc = subprocess.run([sys.executable, "-c", AT_EXIT, str(tmp_path / "data"), str(image)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=180, check=False)
    ended = time.monotonic()
    assert "crashed" in proc.stdout, proc.stderr[-2000:]
    crashed = float(proc.stdout.split("crashed")[1].split()[0])
    assert ended - crashed < 10  # not the 30 s of retries (the interpreter's own exit aside)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    said = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(said) <= 1, said


def test_a_heartbeat_to_a_stopped_database_is_one_line_not_a_traceback(caplog):
    """After the test session's PostgreSQL stops, a heartbeat still beating said so with
    two chained tracebacks per beat; now one line naming what the driver said."""
    from sqlalchemy.exc import OperationalError

    from agent.jobs.heartbeat import Heartbeat

    beats = []

    class Gone:
        def heartbeat(self, ids, statuses):
            beats.append(ids)
            raise OperationalError("SELECT 1", {}, OSError(
                "connection failed: connection refused\n\tIs the server running?"))

    owned = [["job1"]]
    heart = Heartbeat(Gone(), lambda: owned[0], lambda alive: owned.__setitem__(0, []))
    heart.ensure()
    deadline = time.monotonic() + 10
    while not beats and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    said = [r for r in caplog.records if r.getMessage().startswith("heartbeat failed")]
    assert said and all(r.exc_info is None for r in said)
    assert "the database does not answer (connection failed: connection refused)" in \
        said[0].getMessage()
