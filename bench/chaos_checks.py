"""The end checks of a chaos run: the client's ledger against what the store holds.

- outcomes: every request has exactly one outcome the person can see: a result, an
  "interrupted ... continue" or a refusal (busy, could not plan, failed step); a request
  whose app server died before answering is looked up in the store (the person reloads):
  its job's outcome message, or the reply to its stored message, or nothing stored at all
  (the page showed the lost connection and nothing half-done remains). A stored user
  message without any reply, a job without an outcome message or with two, a job still
  active, an exception shown to the person: each is a problem.
- duplicates: no request made two jobs, no step stored twice (every edit node carries a
  step key of a job of its conversation, and no job step has two nodes).
- stuck: no job active at the end, none running without progress for longer than the
  stale time while the run went on (sampled).
- doctor: `mtedit doctor` clean; after `--fix --grace 0` every blob on disk is referenced.
- fairness, throughput and waits (figures).
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

from bench.chaos_users import ACTIVE, Request

BUSY = "still running"
PLANNING = "still planning"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


class StuckWatch:
    """Samples the active jobs every second while the run goes on. Stuck: a running job
    whose progress (done, stage, updated_at) does not move for longer than the stale time
    plus a margin, or a queued job ready to run (planned, the one before it ended) that
    waits that long in seconds when a worker was free (`workers_up()` more than running)."""

    def __init__(self, store, stale_s: float, workers_up=lambda: 1, margin_s: float = 10.0):
        self.store, self.limit, self.workers_up = store, stale_s + margin_s, workers_up
        self.seen: dict[str, tuple] = {}
        self.idle_wait: dict[str, float] = {}  # queued job -> seconds a worker was free
        self.stuck: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stuck-watch")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                jobs = self.store.list_jobs(status=ACTIVE)
                ended = {j.id for j in self.store.list_jobs(status=("done", "failed",
                                                                    "cancelled"))}
            except Exception:  # noqa: BLE001, S112 - the database is restarting
                continue
            now = time.time()
            running = [j for j in jobs if j.status == "running"]
            free = self.workers_up() > len(running)
            for job in running:
                mark = (job.done, job.stage, job.updated_at)
                first = self.seen.get(job.id)
                if first is None or first[0] != mark:
                    self.seen[job.id] = (mark, now)
                elif now - first[1] > self.limit:
                    self.stuck[job.id] = max(self.stuck.get(job.id, 0.0), now - first[1])
            for job in jobs:
                ready = (job.status == "queued" and not job.request.get("claim")
                         and job.stage != "planning"
                         and (job.after_job is None or job.after_job in ended))
                if ready and free:
                    waited = self.idle_wait[job.id] = self.idle_wait.get(job.id, 0.0) + 1.0
                    if waited > self.limit:
                        self.stuck[job.id] = waited


def _ts(dt) -> float:
    return dt.timestamp()


def _kind_of(req: Request) -> str:
    """What the person saw for a request that was answered (before its jobs ended)."""
    if not req.replies:
        return "no reply"
    first = req.replies[0]
    text = first.get("text", "")
    if first["kind"] == "error":
        return "busy" if BUSY in text or PLANNING in text else "refused"
    if first["kind"] == "ask":
        return "asked"
    return "result"


def _job_outcome(view: dict) -> str:
    status = view.get("status")
    return {"done": "result", "interrupted": "interrupted", "failed": "failed",
            "cancelled": "cancelled"}.get(status, "stuck")


class Checker:
    """Everything the run stored, read once after the load ended and the jobs drained."""

    def __init__(self, store, requests: list[Request]):
        self.store, self.requests = store, requests
        self.jobs = {j.id: j for j in store.list_jobs()}
        self.messages = defaultdict(list)
        self.outcome_msgs = defaultdict(list)  # job id -> assistant messages about it
        self.nodes = defaultdict(list)
        for cid in {r.cid for r in requests if r.cid}:
            for m in sorted(store.messages(cid), key=lambda m: (m.created_at, m.id)):
                self.messages[cid].append(m)
                if m.role == "assistant" and m.meta.get("job"):
                    self.outcome_msgs[m.meta["job"]].append(m)
            self.nodes[cid] = store.nodes(cid)

    # -- which stored things belong to which request ------------------------------------

    def windows(self) -> dict[str, tuple[float, float]]:
        """request id -> [sent, next request of the conversation sent): a person sends
        one request at a time, so what its send stored was created in that window."""
        out = {}
        by_conv = defaultdict(list)
        for r in self.requests:
            by_conv[r.conv].append(r)
        for reqs in by_conv.values():
            reqs.sort(key=lambda r: r.t_sent)
            for a, b in zip(reqs, reqs[1:] + [None], strict=True):
                out[a.rid] = (a.t_sent - 0.001, b.t_sent if b else float("inf"))
        return out

    def outcomes(self) -> dict:
        wins = self.windows()
        real_jobs = {i: j for i, j in self.jobs.items() if not j.request.get("claim")}
        job_of_request: dict[str, list[str]] = defaultdict(list)
        for job in real_jobs.values():
            for r in self.requests:
                lo, hi = wins[r.rid]
                if r.cid == job.conversation_id and lo <= _ts(job.created_at) < hi:
                    job_of_request[r.rid].append(job.id)
                    break
        per_request, problems = {}, []
        counts = Counter()
        for r in self.requests:
            seen = _kind_of(r) if r.failure is None else None
            jobs = sorted(set(job_of_request.get(r.rid, [])) | set(r.jobs))
            if r.failure and r.failure.startswith("crash"):
                seen = "crash"
                problems.append(f"request {r.rid} ({r.text!r}): the page showed an exception: "
                                f"{r.failure[:300]}")
            elif r.failure:  # the page lost its server: what does the reloaded page show?
                seen = self._after_reload(r, wins[r.rid], jobs, problems)
            elif r.jobs:
                ends = [_job_outcome(v) for v in r.jobs.values()]
                seen = ends[0] if len(set(ends)) == 1 else "+".join(ends)
            for job_id in jobs:
                n = len(self.outcome_msgs.get(job_id, []))
                job = self.jobs.get(job_id)
                if job is not None and job.active:
                    problems.append(f"request {r.rid} ({r.text!r}): job {job_id} is still "
                                    f"{job.status}")
                    seen = "stuck"
                elif n != 1:
                    problems.append(f"request {r.rid} ({r.text!r}): job {job_id} "
                                    f"({job.status if job else 'missing'}) has {n} outcome "
                                    "messages")
                    seen = "silent" if n == 0 else "twice"
            for crash in r.poll_crashes:
                problems.append(f"request {r.rid} ({r.text!r}): while it waited the page "
                                f"showed an exception: {crash}")
            if len(jobs) > 1:
                problems.append(f"request {r.rid} ({r.text!r}) made {len(jobs)} jobs: {jobs}")
            per_request[r.rid] = seen
            counts[seen] += 1
        orphan_jobs = [j for j in real_jobs if not any(j in v for v in job_of_request.values())]
        for job_id in orphan_jobs:
            problems.append(f"job {job_id} belongs to no request")
        return {"counts": dict(counts), "per_request": per_request, "problems": problems,
                "jobs": len(real_jobs)}

    def _after_reload(self, r: Request, win, jobs: list[str], problems: list[str]) -> str:
        lo, hi = win
        msgs = [m for m in self.messages[r.cid] if lo <= _ts(m.created_at) < hi]
        users = [m for m in msgs if m.role == "user" and m.text == r.text]
        if jobs:
            outs = [_job_outcome({"status": self._status(self.jobs[j])}) for j in jobs
                    if j in self.jobs]
            return "reload: " + "+".join(outs)
        if not users:
            return "dropped"  # nothing stored: the page showed the lost connection
        replies = [m for m in msgs if m.role == "assistant"
                   and _ts(m.created_at) >= _ts(users[0].created_at)]
        if replies:
            return "reload: result"
        claims = {j.id for j in self.jobs.values() if j.request.get("claim")
                  and j.conversation_id == r.cid and lo <= _ts(j.created_at) < hi}
        if any(m.meta.get("job") in claims for m in self.messages[r.cid]):
            return "reload: interrupted"  # told when its reservation was given up, later
        problems.append(f"request {r.rid} ({r.text!r}): the stored message has no reply "
                        "(the app server died in the middle; nothing tells the person)")
        return "silent"

    @staticmethod
    def _status(job) -> str:
        if job.status == "failed" and (job.error or "").startswith("interrupted"):
            return "interrupted"
        return job.status

    # -- duplicates ----------------------------------------------------------------------

    def duplicates(self) -> dict:
        problems = []
        keys = Counter()
        edit_nodes = 0
        for cid, nodes in self.nodes.items():
            with self.store.reading() as s:
                from sqlalchemy import select

                from storage.models import ImageNodeRow

                rows = dict(s.execute(select(ImageNodeRow.id, ImageNodeRow.step_key).where(
                    ImageNodeRow.conversation_id == cid)).all())
            for node in nodes:
                if node.parent_id is None:
                    continue
                edit_nodes += 1
                key = rows.get(node.id)
                if not key:
                    problems.append(f"edit node {node.id} has no step key")
                    continue
                keys[key] += 1
                base = key.rsplit(":", 1)[0]
                owner = self.jobs.get(base)
                if owner is None or owner.conversation_id != cid:
                    problems.append(f"node {node.id}: step key {key} names no job of its "
                                    "conversation")
        twice = [k for k, n in keys.items() if n > 1]
        problems += [f"step {k} stored {keys[k]} times" for k in twice]
        return {"edit_nodes": edit_nodes, "duplicated": len(twice), "problems": problems}

    # -- stuck, doctor -------------------------------------------------------------------

    def stuck(self, watch: StuckWatch | None) -> dict:
        active = [j for j in self.store.list_jobs(status=ACTIVE)]
        problems = [f"job {j.id} still {j.status} at the end ({j.stage})" for j in active]
        if watch is not None:
            problems += [f"job {i} made no progress (running, or ready and waiting while a "
                         f"worker was free) for {s:.0f} s"
                         for i, s in watch.stuck.items()]
        return {"active_at_end": len(active), "stuck_running": len(watch.stuck) if watch else 0,
                "problems": problems}


def doctor(env: dict, url: str, data_dir: str) -> dict:
    """`mtedit doctor`, then `--fix --grace 0`, then once more: the first must be clean
    (nothing missing or corrupt), the last must find no orphan left."""
    db = ["--db", url, "--data-dir", data_dir]

    def run(*extra):
        p = subprocess.run([sys.executable, "-m", "mtedit", "doctor", *db, *extra], env=env,
                           capture_output=True, text=True, timeout=600, check=False)
        return p.returncode, (p.stdout + p.stderr).strip()

    rc, out = run()
    fix_rc, _ = run("--fix", "--grace", "0")
    after_rc, after_out = run()
    orphans = sum("orphan blob" in line for line in out.splitlines())
    left = sum("orphan blob" in line for line in after_out.splitlines())
    problems = []
    if rc != 0:
        problems.append(f"mtedit doctor exited {rc}: {out[-1500:]}")
    if fix_rc != 0 or after_rc != 0 or left:
        problems.append(f"after doctor --fix: {left} orphan blobs left: {after_out[-1500:]}")
    return {"rc": rc, "orphans_found": orphans, "orphans_left": left,
            "summary": out.splitlines()[0] if out else "", "problems": problems}


# -- figures ------------------------------------------------------------------------------


def fairness(store, reqs: list[Request], burst: int) -> dict:
    """For each light conversation: how many of the heavy one's jobs started while it
    waited (after it was sent, before it started). The target: at most one."""
    heavy = [j for r in reqs[:burst] for j in r.jobs]
    heavy_starts = [store.get_job(j).started_at for j in heavy]
    behind = []
    for r in reqs[burst:]:
        for job_id in r.jobs:
            job = store.get_job(job_id)
            if job.started_at is None:
                behind.append(None)
                continue
            behind.append(sum(1 for s in heavy_starts if s is not None
                              and job.created_at < s < job.started_at))
    ok = all(b is not None and b <= 1 for b in behind) and len(behind) == len(reqs) - burst
    return {"heavy_jobs": len(heavy), "light_waited_behind": behind, "ok": ok}


def phase_figures(store, requests: list[Request], phase: str, seconds: float) -> dict:
    """Throughput (edit jobs done and steps stored per minute) and waits of one phase."""
    reqs = [r for r in requests if r.phase == phase]
    jobs = [store.get_job(j) for r in reqs for j in r.jobs]
    done = [j for j in jobs if j.status == "done" and j.kind == "edit"]
    steps = sum(len(j.result_node_ids) for j in done)
    waits = []
    for j in jobs:
        if j.started_at is None:
            continue
        ready = j.created_at
        if j.after_job:
            with contextlib.suppress(Exception):  # the one before is gone
                ready = max(ready, store.get_job(j.after_job).updated_at)
        waits.append(max(0.0, (j.started_at - ready).total_seconds()))
    lat = [r.t_end - r.t_sent for r in reqs if r.action in ("edit", "continue")
           and r.t_end is not None and r.jobs
           and all(v.get("status") == "done" for v in r.jobs.values())]
    minutes = seconds / 60
    return {"seconds": round(seconds, 1), "requests": len(reqs), "edit_jobs": len(jobs),
            "jobs_done": len(done), "steps_done": steps,
            "jobs_per_min": len(done) / minutes if minutes else 0.0,
            "steps_per_min": steps / minutes if minutes else 0.0,
            "wait_p50": pct(waits, 0.5), "wait_p95": pct(waits, 0.95),
            "latency_p50": pct(lat, 0.5), "latency_p95": pct(lat, 0.95),
            "latency_mean": statistics.fmean(lat) if lat else None}
