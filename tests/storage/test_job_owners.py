"""Who owns a job: a process gone from this machine gives its jobs up at once (whatever
the heartbeat says), a reused process id is not taken for the owner, a process on another
machine is trusted to its heartbeat; a job's end and its chat message are stored together;
which jobs the broker still needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from storage import owners
from storage.models import JobRow, utcnow

ROOT = Path(__file__).resolve().parents[2]

HOLDER = r"""
import sys, time
from storage import Store
store = Store.open(sys.argv[1], sys.argv[2])
job = store.create_job("edit", {"steps": [{"instruction": "x"}]}, sys.argv[3], exclusive=True)
store.update_job(job.id, status="running")
print(job.id, flush=True)
time.sleep(600)
"""


def set_owner(store, job_id, host, pid, started):
    with store.transaction() as s:
        row = s.get(JobRow, job_id)
        row.owner_host, row.owner_pid, row.owner_started = host, pid, started


def test_a_job_whose_process_was_killed_on_this_machine_is_interrupted_at_once(store):
    conv = store.create_conversation()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, store.url, str(store.data_dir),
                             conv.id], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    job_id = proc.stdout.readline().strip()
    assert store.get_job(job_id).owner[1] == proc.pid
    assert store.interrupt_stale_jobs() == []  # alive and beating: its own
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    beat = store.get_job(job_id).heartbeat_at
    assert (utcnow() - beat).total_seconds() < store.stale_s  # by its heartbeat: alive
    [gone] = store.interrupt_stale_jobs()  # at once, not after stale_s (30 s)
    assert gone.id == job_id and gone.error.startswith("interrupted")
    assert store.create_job("edit", {}, conv.id, exclusive=True).status == "queued"


def test_a_reused_process_id_is_not_taken_for_the_owner(store):
    here, pid, started = owners.me()
    conv = store.create_conversation()
    mine = store.create_job("edit", {}, conv.id)
    reused = store.create_job("edit", {}, store.create_conversation().id)
    set_owner(store, reused.id, here, pid, started - 3600)  # an earlier process, same id
    assert not store.is_stale(store.get_job(mine.id))
    assert store.is_stale(store.get_job(reused.id))
    assert [j.id for j in store.interrupt_stale_jobs()] == [reused.id]


def test_an_owner_on_another_machine_is_trusted_to_its_heartbeat(store):
    job = store.create_job("edit", {}, store.create_conversation().id)
    set_owner(store, job.id, "elsewhere|1|pid:[1]", 999999, 1.0)  # no such pid here
    assert store.interrupt_stale_jobs() == []


def test_a_process_that_exited_but_was_not_waited_for_is_gone():
    child = subprocess.Popen(["sleep", "0.2"])
    started = psutil.Process(child.pid).create_time()
    assert not owners.gone(owners.machine(), child.pid, started)
    deadline = time.monotonic() + 30
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert owners.gone(owners.machine(), child.pid, started)  # a zombie
    child.wait()
    assert owners.gone(owners.machine(), child.pid, started)  # no such process
    assert not owners.gone(*owners.me())


def test_a_job_queued_behind_a_live_one_lives_with_it(store):
    conv = store.create_conversation()
    first = store.create_job("edit", {"steps": [{}]}, conv.id, exclusive=True)
    store.start_job(first.id)
    behind = store.create_job("edit", {"steps": [{}]}, conv.id, exclusive=True, after=first.id)
    set_owner(store, behind.id, owners.machine(), 999999, 1.0)  # its submitter is gone
    assert store.interrupt_stale_jobs() == []  # the runner of `first` will send it
    claim = store.create_job("edit", {"claim": True}, conv.id, after=behind.id)
    set_owner(store, claim.id, owners.machine(), 999999, 1.0)
    assert [j.id for j in store.interrupt_stale_jobs()] == [claim.id]  # a reservation: gone
    set_owner(store, first.id, owners.machine(), 999999, 1.0)  # now its runner dies too
    assert {j.id for j in store.interrupt_stale_jobs()} == {first.id, behind.id}


def test_a_job_ends_with_its_message_or_not_at_all(store):
    conv = store.create_conversation()
    job = store.create_job("edit", {}, conv.id)
    store.start_job(job.id)
    job_end, msg = store.end_job(job.id, "done", result_node_ids=["n1"],
                                 message={"text": "Done: 1 step.", "kind": "edit"})
    assert job_end.status == "done" and job_end.result_node_ids == ("n1",)
    assert msg.meta == {"job": job.id} and msg.kind == "edit"
    # whoever comes second (a reaper, a redelivered run) writes nothing
    assert store.end_job(job.id, "failed", message={"text": "interrupted"}) is None
    assert [m.text for m in store.messages(conv.id)] == ["Done: 1 step."]
    other = store.create_job("edit", {}, conv.id)
    set_owner(store, other.id, owners.machine(), 999999, 1.0)
    store.interrupt_stale_jobs(tell=lambda j: {"text": f"{j.id} stopped", "node_ids": ["n2"]})
    told = [m for m in store.messages(conv.id) if m.meta.get("job") == other.id]
    assert [m.text for m in told] == [f"{other.id} stopped"]
    assert store.get_job(other.id).result_node_ids == ("n2",)


def test_the_jobs_a_broker_still_needs(store):
    conv = store.create_conversation()
    first = store.create_job("edit", {"steps": [{}]}, conv.id, exclusive=True)
    behind = store.create_job("edit", {"steps": [{}]}, conv.id, exclusive=True, after=first.id)
    claim = store.create_job("edit", {"claim": True}, store.create_conversation().id)
    ids = [first.id, behind.id, claim.id]
    assert [j.id for j in store.jobs_to_send(ids, "run-1")] == [first.id]  # never sent
    store.mark_sent(first.id, "run-1")
    sent = store.get_job(first.id)
    assert sent.sent_to == "run-1" and sent.owner is None  # the queue holds it now
    assert store.jobs_to_send(ids, "run-1") == []  # that broker has it
    assert [j.id for j in store.jobs_to_send(ids, "run-2")] == [first.id]  # restarted empty
    store.start_job(first.id)
    store.end_job(first.id, "done")
    assert [j.id for j in store.jobs_to_send(ids, "run-2")] == [behind.id]  # its turn now


def test_a_job_given_up_by_create_job_is_told_by_the_next_reaper_once(store):
    conv = store.create_conversation()
    dead = store.create_job("edit", {}, conv.id, exclusive=True)
    set_owner(store, dead.id, owners.machine(), 999999, 1.0)
    store.create_job("edit", {}, conv.id, exclusive=True)  # takes the conversation over
    assert store.get_job(dead.id).status == "failed"
    assert store.interrupt_stale_jobs() == []  # no teller: nothing said, nothing lost
    tell = lambda j: {"text": f"{j.id} was interrupted"}
    assert [j.id for j in store.interrupt_stale_jobs(conv.id, tell=tell)] == [dead.id]
    assert store.interrupt_stale_jobs(conv.id, tell=tell) == []
    assert [m.text for m in store.messages(conv.id)] == [f"{dead.id} was interrupted"]
