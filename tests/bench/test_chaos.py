"""A short chaos run (python -m bench.chaos): two app servers and two workers over a
private Redis and PostgreSQL, scripted conversations for 75 s while each kind of fault
happens once (a worker and an app server killed mid-work, Redis restarted with and
without its append-only file, PostgreSQL crashed with a transaction open). Nothing may
be lost, silent, duplicated or stuck; the doctor finds the store clean."""

from __future__ import annotations

import os

import pytest

from bench import chaos
from bench.chaos_faults import KINDS
from mtedit.servers import INSTALL_HINT, postgres_bindir, redis_binary

pytestmark = pytest.mark.slow


def test_a_short_chaos_run_loses_nothing():
    if redis_binary() is None or postgres_bindir() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis and PostgreSQL are needed; {INSTALL_HINT}")
        pytest.skip(f"Redis or PostgreSQL is not installed; {INSTALL_HINT}")
    r = chaos.run(chaos._args(["--duration", "75", "--baseline", "15", "--conversations", "2",
                               "--faults", "5", "--seed", "3"]))
    print(chaos.report(r))
    assert not r["problems"], "\n".join(r["problems"])
    assert sorted(f["kind"] for f in r["faults"]) == sorted(KINDS)  # each kind once
    assert all(f["ended"] for f in r["faults"]) and not r["fault_errors"]
    counts = r["outcomes"]["counts"]
    assert not {k: n for k, n in counts.items()
                if k in ("silent", "stuck", "crash", "twice", "no reply")}, counts
    assert counts.get("result", 0) > 20, counts
    assert r["duplicates"]["duplicated"] == 0 and r["duplicates"]["edit_nodes"] > 0
    assert r["stuck"]["active_at_end"] == 0 and r["stuck"]["stuck_running"] == 0
    assert r["doctor"]["rc"] == 0 and r["doctor"]["orphans_left"] == 0
    assert r["fairness"]["ok"], r["fairness"]
    assert r["baseline"]["jobs_done"] > 0 and r["chaos"]["jobs_done"] > 0
