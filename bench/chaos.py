"""A chaos run of the whole queue deployment, with nothing lost.

    python -m bench.chaos [--duration 600] [--baseline 300] [--seed 0] [--conversations 4]
                          [--workers 2] [--apps 2] [--faults 24] [--steps 4] [--json out.json]

Starts a private Redis (append-only file on) and PostgreSQL, two app servers
(bench.chaos_app: ChatSessions over the shared store, as two Streamlit servers hold them)
and `mtedit worker`s on the bundled model. Then, fault-free: a fairness probe (one
conversation sends 10 edits at once, three others one each) and a baseline phase; then
the chaos phase: the same scripted conversations (edits, "undo" and "go back to ...",
uploads, "continue" after an interruption; at most one request a second each) while a
seeded schedule SIGKILLs workers and app servers, restarts Redis with and without its
append-only file and crashes PostgreSQL while a transaction is open. After the jobs drain
it checks the client's ledger against the store (bench/chaos_checks.py) and prints:
requests by outcome, lost / silent / duplicated / stuck, doctor, fairness, and throughput
with p50 / p95 waits under faults against the baseline. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _args(argv):
    ap = argparse.ArgumentParser(prog="python -m bench.chaos",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=600, help="seconds of the chaos phase")
    ap.add_argument("--baseline", type=float, default=None,
                    help="seconds of the fault-free phase (default: half the duration)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--conversations", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--apps", type=int, default=2)
    ap.add_argument("--faults", type=int, default=None,
                    help="faults in the chaos phase (default: one per 25 s)")
    ap.add_argument("--steps", type=int, default=4, help="rf steps per edit")
    ap.add_argument("--interval", type=float, default=1.0,
                    help="at most one request per this many seconds per conversation")
    ap.add_argument("--stale", type=float, default=10.0, help="MTEDIT_JOB_STALE_S of the run")
    ap.add_argument("--no-fairness", action="store_true", help="skip the fairness probe")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", type=Path, help="keep the logs in this folder")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.baseline is None:
        args.baseline = args.duration / 2
    if args.faults is None:
        args.faults = max(5, round(args.duration / 25))
    return args


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _drain(store, limit_s: float) -> float:
    """Wait until no job is queued or running (or limit_s); returns the seconds waited.
    Reading the jobs reaps the ones whose owner is gone, as a page would."""
    from agent.jobs.recovery import reap

    t0 = time.time()
    while time.time() - t0 < limit_s:
        with contextlib.suppress(Exception):  # the database is coming back
            reap(store)
            if not store.list_jobs(status=("queued", "running")):
                break
        time.sleep(0.5)
    return time.time() - t0


def run(args) -> dict:
    """The whole run; returns the figures (also the JSON file's content)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bench import chaos_checks as checks
    from bench.chaos_cluster import Cluster
    from bench.chaos_faults import FaultRunner, schedule
    from bench.chaos_users import Ledger, User, fairness_probe, run_users
    from storage import Store

    folder = Path(tempfile.mkdtemp(prefix="mtedit-chaos-"))
    cluster = Cluster(folder, apps=args.apps, workers=args.workers, stale_s=args.stale)
    result: dict = {"command": "python -m bench.chaos " + " ".join(args.argv),
                    "options": {k: (str(v) if isinstance(v, Path) else v)
                                for k, v in vars(args).items() if k != "argv"},
                    "uptime_before": _uptime(), "threads_per_process": 1}
    ledger = Ledger()
    try:
        cluster.start()
        store = Store.open(cluster.database_url, cluster.data_dir)
        store.stale_s = args.stale
        follow_s = 3 * args.stale + 180
        mk = lambda i: User(cluster, ledger, i, args.seed, steps=args.steps,
                            interval_s=args.interval, follow_s=follow_s)
        users = [mk(i) for i in range(args.conversations)]
        probe = [mk(100 + i) for i in range(4)] if not args.no_fairness else []
        for u in users + probe:
            u.setup("setup")
        run_users(users, "warmup", 5)  # the workers' first model calls are slow
        _drain(store, follow_s)
        if probe:
            reqs = fairness_probe(probe)
            result["fairness"] = checks.fairness(store, reqs, 10)
            _drain(store, follow_s)
        t0 = time.time()
        run_users(users, "baseline", args.baseline)
        base_s = time.time() - t0
        _drain(store, follow_s)

        faults = schedule(args.seed, args.faults, args.duration, args.workers, args.apps)
        watch = checks.StuckWatch(store, args.stale,
                                  lambda: sum(p.alive for p in cluster.workers))
        runner = FaultRunner(cluster, faults, store)
        watch.start()
        runner.start()
        t0 = time.time()
        run_users(users, "chaos", args.duration)
        chaos_s = time.time() - t0
        runner.join()
        result["drain_s"] = round(_drain(store, follow_s), 1)
        watch.stop()

        checker = checks.Checker(store, ledger.requests)
        result["outcomes"] = checker.outcomes()
        result["duplicates"] = checker.duplicates()
        result["stuck"] = checker.stuck(watch)
        result["doctor"] = checks.doctor(cluster.env, cluster.database_url,
                                         str(cluster.data_dir))
        result["baseline"] = checks.phase_figures(store, ledger.requests, "baseline", base_s)
        result["chaos"] = checks.phase_figures(store, ledger.requests, "chaos", chaos_s)
        result["faults"] = [f.as_dict() for f in faults]
        result["fault_errors"] = runner.errors
        result["user_errors"] = ledger.errors
        result["restarts"] = {p.name: p.starts - 1 for p in cluster.apps + cluster.workers}
        store.close()
    finally:
        result["uptime_after"] = _uptime()
        cluster.close()
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for log in folder.glob("*.log"):
                shutil.copy(log, args.keep / log.name)
            (args.keep / "requests.json").write_text(
                json.dumps([r.as_dict() for r in ledger.requests], indent=1, default=str))
        shutil.rmtree(folder, ignore_errors=True)
    result["problems"] = _problems(result)
    return result


def _problems(r: dict) -> list[str]:
    out = []
    for key in ("outcomes", "duplicates", "stuck", "doctor"):
        out += r.get(key, {}).get("problems", [])
    if r.get("fairness") and not r["fairness"]["ok"]:
        out.append(f"fairness: the light conversations waited behind "
                   f"{r['fairness']['light_waited_behind']} of the heavy one's jobs")
    out += [f"fault not carried out: {e}" for e in r.get("fault_errors", [])]
    out += [f"a user could not go on: {e}" for e in r.get("user_errors", [])]
    return out


def _fmt(v, unit="") -> str:
    return "-" if v is None else f"{v:.2f}{unit}"


def report(r: dict) -> str:
    o = r["options"]
    lines = [(f"chaos run: {o['conversations']} conversations, {o['workers']} workers, "
              f"{o['apps']} app servers, rf {o['steps']} steps on the bundled model, "
              f"stale time {o['stale']} s, seed {o['seed']}, one thread per process"),
             f"before: {r['uptime_before']}", f"after:  {r['uptime_after']}", ""]
    kinds: dict[str, int] = {}
    for f in r["faults"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    lines.append(f"faults: {len(r['faults'])} (" + ", ".join(f"{k} {n}" for k, n in
                                                          sorted(kinds.items())) + ")")
    lines.append("outcomes: " + ", ".join(f"{k} {n}" for k, n in
                                          sorted(r["outcomes"]["counts"].items())))
    lost = sum(n for k, n in r["outcomes"]["counts"].items()
               if k in ("silent", "stuck", "crash", "twice", "no reply"))
    rows = [("requests", sum(r["outcomes"]["counts"].values())), ("lost or silent", lost),
            ("duplicated nodes", r["duplicates"]["duplicated"]),
            ("stuck jobs", r["stuck"]["active_at_end"] + r["stuck"]["stuck_running"]),
            ("doctor", "clean" if not r["doctor"]["problems"] else "PROBLEMS"),
            ("orphan blobs found / left", (f"{r['doctor']['orphans_found']} / "
                                           f"{r['doctor']['orphans_left']}"))]
    if r.get("fairness"):
        rows.append(("fairness (heavy jobs each light one waited behind)",
                     (f"{r['fairness']['light_waited_behind']} "
                      f"{'ok' if r['fairness']['ok'] else 'FAIL'}")))
    lines += [f"  {k:<52}{v}" for k, v in rows]
    lines.append("")
    lines.append(f"{'phase':<10}{'seconds':>8}{'jobs':>6}{'done':>6}{'jobs/min':>10}"
                 f"{'steps/min':>10}{'wait p50':>10}{'wait p95':>10}{'lat p50':>9}"
                 f"{'lat p95':>9}")
    for key in ("baseline", "chaos"):
        v = r[key]
        lines.append(f"{key:<10}{v['seconds']:>8.0f}{v['edit_jobs']:>6}{v['jobs_done']:>6}"
                     f"{v['jobs_per_min']:>10.1f}{v['steps_per_min']:>10.1f}"
                     f"{_fmt(v['wait_p50'], 's'):>10}{_fmt(v['wait_p95'], 's'):>10}"
                     f"{_fmt(v['latency_p50'], 's'):>9}{_fmt(v['latency_p95'], 's'):>9}")
    if r["baseline"]["jobs_per_min"]:
        lines.append(f"throughput under faults: "
                     f"{100 * r['chaos']['jobs_per_min'] / r['baseline']['jobs_per_min']:.0f} %"
                     " of the fault-free phase")
    lines.append("")
    lines += [f"PROBLEM: {p}" for p in r["problems"]] or ["no problem found"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the store's "waiting for the database" notes
    args = _args(argv)
    r = run(args)
    print(report(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2, default=str))
    return 1 if r["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
