"""Jobs across processes: heartbeats decide what is stuck, one active job per conversation."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from storage import ConversationBusy, Store
from storage.models import JobRow, utcnow

ROOT = Path(__file__).resolve().parents[2]


def test_a_job_with_an_old_heartbeat_is_interrupted_whatever_its_pid(store):
    conv = store.create_conversation()
    job = store.create_job("edit", {"steps": [{"instruction": "x"}]}, conv.id)
    store.update_job(job.id, status="running", result_node_ids=["n1"])
    # the row names this very (live) process: a PID check would keep it running for ever
    with store.transaction() as s:
        row = s.get(JobRow, job.id)
        row.worker = f"elsewhere:{os.getpid()}"
        row.heartbeat_at = utcnow() - timedelta(seconds=store.stale_s + 5)
    fresh = store.create_job("edit", {}, store.create_conversation().id)
    store.update_job(fresh.id, status="running")
    with store.transaction() as s:
        s.get(JobRow, fresh.id).worker = "gone-host:1"  # a dead name, but it beats
    store.heartbeat([fresh.id])
    stale = store.interrupt_stale_jobs()
    assert [j.id for j in stale] == [job.id]
    got = store.get_job(job.id)
    assert got.status == "failed" and got.error.startswith("interrupted")
    assert got.result_node_ids == ("n1",)  # the finished steps stay recorded
    assert store.get_job(fresh.id).status == "running"
    assert store.interrupt_stale_jobs() == []  # only once, even with two reapers


def test_cancel_of_a_job_nobody_runs_any_more_takes_effect(store):
    conv = store.create_conversation()
    job = store.create_job("edit", {}, conv.id)
    store.update_job(job.id, status="running")
    with store.transaction() as s:
        s.get(JobRow, job.id).heartbeat_at = utcnow() - timedelta(hours=1)
    assert store.request_cancel(job.id)
    assert store.get_job(job.id).status == "cancelled"
    live = store.create_job("edit", {}, conv.id)
    store.update_job(live.id, status="running")
    store.heartbeat([live.id])
    assert store.request_cancel(live.id)  # a live runner sees the flag between model calls
    assert store.get_job(live.id).cancel_requested and store.get_job(live.id).status == "running"


def test_one_active_job_per_conversation(store):
    conv = store.create_conversation()
    first = store.create_job("edit", {}, conv.id, exclusive=True)
    with pytest.raises(ConversationBusy) as info:
        store.create_job("edit", {}, conv.id, exclusive=True)
    assert info.value.job.id == first.id
    # queued behind the newest active job is allowed, behind an older one is not
    second = store.create_job("edit", {}, conv.id, exclusive=True, after=first.id)
    with pytest.raises(ConversationBusy):
        store.create_job("edit", {}, conv.id, exclusive=True, after=first.id)
    other = store.create_conversation()
    store.create_job("edit", {}, other.id, exclusive=True)  # other conversations run freely
    store.update_job(first.id, status="done")
    store.update_job(second.id, status="failed")
    store.create_job("edit", {}, conv.id, exclusive=True)


RACER = r"""
import sys, time
from pathlib import Path
from storage import ConversationBusy, Store
url, data, conv, go, n = sys.argv[1:6]
store = Store.open(url, data)
while not Path(go).exists():
    time.sleep(0.001)
won = 0
for i in range(int(n)):
    try:
        job = store.create_job("edit", {}, conv, exclusive=True)
    except ConversationBusy:
        continue
    won += 1
    store.update_job(job.id, status="done")
print(won)
"""


def test_two_processes_racing_for_one_conversation_never_overlap(store, tmp_path):
    conv = store.create_conversation()
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    procs = [subprocess.Popen([sys.executable, "-c", RACER, store.url, str(store.data_dir),
                               conv.id, str(go), "40"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(1.5)
    go.touch()
    won = 0
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        won += int(out)
    jobs = store.list_jobs(conv.id)
    assert len(jobs) == won and all(j.status == "done" for j in jobs)
    # each job was created only after the previous one had finished
    ordered = sorted(jobs, key=lambda j: (j.created_at, j.id))
    for a, b in itertools.pairwise(ordered):
        assert a.updated_at <= b.created_at


def test_a_blob_folder_that_is_not_the_databases_is_refused(db_url, tmp_path):
    from storage import StoreMismatchError
    from storage.testing import make_png

    with Store.open(db_url, tmp_path / "shared") as store:
        conv = store.create_conversation()
        store.add_upload(conv.id, make_png(), "a photo")
    with Store.open(db_url, tmp_path / "shared") as store:  # the right folder: fine
        assert len(store.nodes(conv.id)) == 1
    # a worker given an empty local folder instead of the shared one
    with pytest.raises(StoreMismatchError, match="MTEDIT_DATA_DIR"):
        Store.open(db_url, tmp_path / "local")
    assert not list((tmp_path / "local").rglob("*.store-id"))
    # a folder that belongs to another store
    with Store.open(f"sqlite:///{tmp_path / 'other' / 'o.db'}", tmp_path / "other") as other:
        c = other.create_conversation()
        other.add_upload(c.id, make_png(seed=1), "x")
    with pytest.raises(StoreMismatchError, match="belongs to"):
        Store.open(db_url, tmp_path / "other")
