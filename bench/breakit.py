"""A break-it probe: the product attacked as an outsider would, through its real surfaces.

    python -m bench.breakit [--json out.json] [--only GROUP,...] [--keep]

Everything runs on a temporary folder with the bundled model: the `mtedit` CLI (its own
`main`, in this process, and as a child process where a signal or the exit matters),
settings from bad environment variables, the chat (`agent.ChatSession` built as the app
builds it) with hostile text, absurd numbers and hostile uploads, crafted conversation
zips, a damaged data folder, a full or read-only disk (a small tmpfs, when this process
may mount one) and SIGTERM in the middle of an edit. Every case is checked for:

- no traceback and no exception class name in what a person sees (stdout, stderr, replies);
- no file written or removed outside the data folder (a victim folder beside it is
  fingerprinted before and after every case);
- nothing already stored lost (every image stored before the case still reads back, and
  doctor finds no damage the case did not make on purpose).

Prints one row per case (case, surface, ok / FAIL, detail) and the totals; `--json`
writes them. The groups are in bench/breakit_cases.py (settings, CLI, imports),
bench/breakit_chat.py (chat text and numbers, uploads, a damaged head, a vanished database)
and bench/breakit_store.py (the data folder, signals); the checks in bench/breakit_core.py
and the hostile files in bench/breakit_files.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.breakit_core import Fail, Outcome, Probe


def table(outcomes: list[Outcome]) -> str:
    w = max([len(o.case) for o in outcomes] + [4])
    lines = [f"{'case':{w}}  {'surface':9}  outcome  detail", "-" * (w + 80)]
    for o in outcomes:
        lines.append(f"{o.case:{w}}  {o.surface:9}  {'ok' if o.ok else 'FAIL':7}  "
                     f"{o.detail[:100]}")
    fails = [o for o in outcomes if not o.ok]
    lines.append("-" * (w + 80))
    by = {}
    for o in outcomes:
        by.setdefault(o.surface, [0, 0])[0 if o.ok else 1] += 1
    lines.append("  ".join(f"{s}: {ok} ok / {bad} FAIL" for s, (ok, bad) in by.items()))
    lines.append(f"{len(outcomes)} cases, {len(outcomes) - len(fails)} ok, {len(fails)} FAIL")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench import breakit_cases, breakit_chat, breakit_store

    groups = {**breakit_cases.GROUPS, **breakit_chat.GROUPS, **breakit_store.GROUPS}
    ap = argparse.ArgumentParser(prog="python -m bench.breakit", description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the outcomes as JSON")
    ap.add_argument("--only", default="", help=f"comma-separated groups of {', '.join(groups)}")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    chosen = [g for g in args.only.split(",") if g] or list(groups)
    root = Path(tempfile.mkdtemp(prefix="breakit-"))
    probe = Probe(root)
    t0 = time.perf_counter()
    try:
        for name in chosen:
            print(f"[{name}]", flush=True)
            try:
                groups[name](probe)
            except Fail as exc:  # a group's own set-up did not go as a user's would
                probe.outcomes.append(Outcome(f"{name}: set-up", name, False, str(exc)[:240]))
        stray = probe.stray_temp()
        probe.case("no stray temp files", "all", lambda: (
            "none" if not stray else (_ for _ in ()).throw(Fail(f"left {stray[:5]}"))))
    finally:
        from bench.breakit_files import unmount_all

        unmount_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    print()
    print(table(probe.outcomes))
    print(f"{time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}; "
          f"torch threads {os.environ.get('OMP_NUM_THREADS', '?')}")
    if args.json:
        args.json.write_text(json.dumps({"cases": [asdict(o) for o in probe.outcomes],
                                         "fails": sum(not o.ok for o in probe.outcomes)},
                                        indent=1))
    return 1 if any(not o.ok for o in probe.outcomes) else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
