"""Load benchmark of the distributed mode: edits through Celery workers vs in-process.

    python -m bench.queue [--conversations 20] [--edits 3] [--workers 1,2] [--steps 8]
                          [--json out.json]

Starts a private Redis and PostgreSQL (SQLite when PostgreSQL is not installed), builds a
tiny random FLUX (64 px), and runs the same load three ways:
- in-process: the app's own executor thread, one conversation after another;
- through the queue with 1, then 2 `mtedit worker` processes (one OpenMP thread each):
  every conversation uploads an image and sends its edits at once (each queued behind
  the previous one of its conversation).
Prints jobs per minute, p50 / p95 of the wait (submit -> a worker starts it) and of the
run (start -> end), and the queue overhead per job: the latency of one job on an idle,
warm worker minus the same job in-process (median of --probe jobs).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _png(i: int) -> bytes:
    from toyworld import world as W

    colours = ("red", "blue", "green", "yellow")
    scene = W.Scene("white", (W.Obj("circle", colours[i % 4], "small", i % 9),))
    buf = io.BytesIO()
    W.render(scene).save(buf, format="PNG")
    return buf.getvalue(), W.caption(scene)


EDITS = ("make the circle blue", "make the circle red", "make the circle green",
         "make the circle yellow")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _job_times(store, job_ids: list[str]) -> dict:
    waits, runs, ends, starts = [], [], [], []
    statuses = {}
    for job_id in job_ids:
        job = store.get_job(job_id)
        statuses[job.status] = statuses.get(job.status, 0) + 1
        if job.started_at is None:
            continue
        waits.append((job.started_at - job.created_at).total_seconds())
        runs.append((job.updated_at - job.started_at).total_seconds())
        starts.append(job.created_at.timestamp())
        ends.append(job.updated_at.timestamp())
    span = max(ends) - min(starts) if ends else float("nan")
    return {"jobs": len(job_ids), "statuses": statuses, "seconds": span,
            "jobs_per_min": 60 * len(runs) / span if ends else 0.0,
            "wait_p50": _pct(waits, 0.5), "wait_p95": _pct(waits, 0.95),
            "run_p50": _pct(runs, 0.5), "run_p95": _pct(runs, 0.95)}


def _load(session, conversations: int, edits: int, steps: int) -> list[str]:
    """Every conversation: an upload, then its edits at once (queued behind each other)."""
    jobs, convs = [], []
    for c in range(conversations):
        data, caption = _png(c)
        convs.append(session.new_conversation(f"bench {c}"))
        session.send(caption, files=[("bench.png", data)])
        session.update_settings(preset="rf", steps=steps)
    for e in range(edits):  # round by round, as people type
        for cid in convs:
            session.switch(cid)
            [reply] = session.send(EDITS[e % len(EDITS)], wait=False)
            if reply.job_id is None:
                raise RuntimeError(f"not queued: {reply.text}")
            jobs.append(reply.job_id)
    return jobs


def _probe(session, n: int, steps: int) -> list[float]:
    """Latency of single jobs, one at a time, on an idle executor or worker."""
    data, caption = _png(99)
    session.new_conversation("probe")
    session.send(caption, files=[("probe.png", data)])
    session.update_settings(preset="rf", steps=steps)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        [reply] = session.send(EDITS[i % len(EDITS)])
        out.append(time.perf_counter() - t0)
        if reply.kind != "edit":
            raise RuntimeError(reply.text)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__.split("\n")[0])
    ap.add_argument("--conversations", type=int, default=20)
    ap.add_argument("--edits", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--steps", type=int, default=8, help="rf steps per edit (2 model calls each)")
    ap.add_argument("--probe", type=int, default=10, help="single jobs for the overhead")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from agent import ChatSession
    from agent.jobs.executor import Executor
    from editing_core.testing import tiny_random_folder
    from mtedit.servers import ServerMissing, private_postgres, private_redis, stop
    from mtedit.settings import Settings
    from storage import Store

    model = tiny_random_folder()
    result: dict = {"conversations": args.conversations, "edits": args.edits,
                    "steps": args.steps, "load_before": os.getloadavg()}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mtedit-bench-")))
        redis_url = stack.enter_context(private_redis(tmp / "redis"))
        try:
            pg = stack.enter_context(private_postgres())
            new_db = lambda: pg.create_database(f"b_{secrets.token_hex(4)}")
        except ServerMissing:
            new_db = lambda: f"sqlite:///{tmp / secrets.token_hex(4)}.db"
        base = {"model": str(model), "device": "cpu", "dtype": "float32", "max_side": 64}

        # in-process
        url, data = new_db(), tmp / "inproc"
        settings = Settings(data_dir=data, database_url=url, **base)
        store = Store.from_settings(settings)
        session = ChatSession.open(settings, store=store, executor=Executor(store,
                                                                            settings=settings))
        _probe(session, 2, args.steps)  # warm up, as for the workers
        local_probe = _probe(session, args.probe, args.steps)
        t0 = time.perf_counter()
        jobs = _load(session, args.conversations, args.edits, args.steps)
        for j in jobs:
            session.wait(j)
        result["in_process"] = {**_job_times(store, jobs), "wall": time.perf_counter() - t0,
                                "single_job_p50": statistics.median(local_probe)}
        store.close()

        for n in [int(x) for x in args.workers.split(",")]:
            url, data = new_db(), tmp / f"queue{n}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
            env.update(MTEDIT_QUEUE_URL=redis_url, MTEDIT_QUEUE_NAME=f"bench{n}",
                       MTEDIT_DATABASE_URL=url, MTEDIT_DATA_DIR=str(data),
                       MTEDIT_MODEL=str(model), MTEDIT_DEVICE="cpu", MTEDIT_DTYPE="float32",
                       MTEDIT_MAX_SIDE="64", OMP_NUM_THREADS="1")
            Store.open(url, data).close()
            procs = []
            for i in range(n):
                log = tmp / f"w{n}-{i}.log"
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "mtedit", "worker", "--name", f"b{n}-{i}"],
                    cwd=ROOT, env=env, stdout=open(log, "w"),  # noqa: SIM115
                    stderr=subprocess.STDOUT))
            try:
                for i, p in enumerate(procs):  # every worker has loaded its model
                    log = tmp / f"w{n}-{i}.log"
                    while "ready." not in log.read_text():
                        if p.poll() is not None:
                            raise RuntimeError(log.read_text()[-2000:])
                        time.sleep(0.2)
                settings = Settings.from_env(env)
                store = Store.from_settings(settings)
                session = ChatSession.open(settings, store=store)
                _probe(session, 2 * n, args.steps)  # warm every worker (first-call costs)
                queue_probe = _probe(session, args.probe, args.steps)
                t0 = time.perf_counter()
                jobs = _load(session, args.conversations, args.edits, args.steps)
                for j in jobs:
                    session.wait(j, timeout=3600)
                result[f"workers_{n}"] = {
                    **_job_times(store, jobs), "wall": time.perf_counter() - t0,
                    "single_job_p50": statistics.median(queue_probe),
                    "overhead_ms": 1000 * (statistics.median(queue_probe)
                                           - statistics.median(local_probe))}
                store.close()
            finally:
                stop(*procs, grace=30)
    result["load_after"] = os.getloadavg()
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _print(r: dict) -> None:
    print(f"{r['conversations']} conversations x {r['edits']} edits, rf {r['steps']} steps, "
          f"64 px tiny FLUX, one thread per process; load average before "
          f"{r['load_before'][0]:.1f}, after {r['load_after'][0]:.1f}")
    print(f"{'mode':<12}{'jobs/min':>10}{'wait p50':>10}{'wait p95':>10}{'run p50':>10}"
          f"{'run p95':>10}{'1 job':>9}{'overhead':>10}")
    for key in [k for k in r if k == "in_process" or k.startswith("workers_")]:
        v = r[key]
        over = f"{v['overhead_ms']:.0f} ms" if "overhead_ms" in v else "-"
        print(f"{key:<12}{v['jobs_per_min']:>10.1f}{v['wait_p50']:>9.2f}s{v['wait_p95']:>9.2f}s"
              f"{v['run_p50']:>9.2f}s{v['run_p95']:>9.2f}s{v['single_job_p50']:>8.2f}s{over:>10}")
    one, two = r.get("workers_1"), r.get("workers_2")
    if one and two and one["jobs_per_min"]:
        print(f"2 workers / 1 worker throughput: {two['jobs_per_min'] / one['jobs_per_min']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
