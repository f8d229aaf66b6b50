"""The break-it probe's machinery: the temporary world, running the CLI, the checks every
case gets (bench/breakit.py runs the groups)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what a person must never see: a traceback, an exception class, a raw errno text
LEAK = re.compile(r"Traceback \(most recent|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|\[Errno \d+\]"
                  r"|\binstance of [A-Z]\w+|\b[A-Za-z]+\.[A-Z][A-Z_]{2,}\b|\bsqlite3\.\w|\bpsycopg2?\.\w|\bsqlalchemy\.\w|\bpydantic")
# "\r" is allowed: progress bars on stderr redraw their line with it
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Outcome:
    case: str
    surface: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class Ran:
    """What a CLI run showed: exit status, standard output and error."""

    rc: int | str
    out: str
    err: str

    @property
    def said(self) -> str:
        return (self.out + "\n" + self.err).strip()


def leaks(text: str) -> str | None:
    """The first thing in `text` a person should not see, or None."""
    m = LEAK.search(text or "")
    if m and m.group(0).startswith("Traceback"):
        lines = text[m.start():].splitlines()[1:]
        last = [ln for ln in lines if ln and not ln.startswith((" ", "Traceback", "The above",
                                                                  "During handling"))]
        files = [ln.strip() for ln in lines if ln.strip().startswith('File "')]
        return f"prints a traceback ({(last or ['?'])[0][:100]}; {(files or ['?'])[-1][-80:]})"
    if m:
        return f"shows {m.group(0)!r}"
    m = CONTROL.search(text or "")
    if m:
        return f"shows control character {m.group(0)!r}"
    return None


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links not followed) with a digest of its bytes."""
    seen = {}
    for path in sorted(folder.rglob("*")) if folder.exists() else ():
        if path.is_symlink():
            seen[str(path)] = "link:" + os.readlink(path)
        elif path.is_file():
            seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


class Probe:
    """The temporary world and the record of outcomes."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"  # the data folder of the main store
        self.inputs = root / "inputs"  # files the probe made (uploads, zips, scripts)
        self.out = root / "out"  # where exports may be written
        self.victim = root / "victim"  # outside every data folder: must never change
        self.cwd = root / "cwd"  # the working folder of every command: must stay empty
        for p in (self.inputs, self.out, self.victim, self.cwd):
            p.mkdir(parents=True, exist_ok=True)
        (self.victim / "precious.txt").write_text("do not touch\n")
        (self.victim / ("f" * 64)).write_bytes(b"looks like a blob but is not one")
        self.outcomes: list[Outcome] = []
        self.env = {**os.environ, "MTEDIT_DATA_DIR": str(self.data), "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                    "MTEDIT_EMBEDDINGS": os.environ.get("MTEDIT_EMBEDDINGS", "1"),
                    "PYTHONPATH": str(ROOT)}
        for key in ("MTEDIT_DATABASE_URL", "MTEDIT_CONFIG", "MTEDIT_MAX_SIDE", "MTEDIT_QUEUE_URL",
                    "MTEDIT_MODEL", "MTEDIT_DEVICE", "MTEDIT_PLANNER"):
            self.env.pop(key, None)
        self._tmp_before = set(os.listdir(tempfile.gettempdir()))

    # -- running the CLI ------------------------------------------------------------------

    def cli(self, *args: str, env: dict | None = None) -> Ran:
        """`mtedit ARGS` through its own main() in this process, with `env` set."""
        from mtedit.cli import main

        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update({**self.env, **(env or {})})
        for k, v in list(os.environ.items()):
            if v is None:
                del os.environ[k]
        out, err = io.StringIO(), io.StringIO()
        here = os.getcwd()
        os.chdir(self.cwd)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(list(args))
                except SystemExit as exc:
                    rc = exc.code if isinstance(exc.code, int) else 1
                except BaseException:  # noqa: BLE001 - what escapes main is a traceback
                    traceback.print_exc()
                    rc = "crash"
        finally:
            os.chdir(here)
            os.environ.clear()
            os.environ.update(saved)
        return Ran(rc, out.getvalue(), err.getvalue())

    def spawn(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        """`mtedit ARGS` as a child process (for signals and what happens at exit)."""
        full = {**self.env, **(env or {})}
        return subprocess.Popen([sys.executable, "-m", "mtedit", *args], cwd=self.cwd, env=full,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run_child(self, *args: str, env: dict | None = None, timeout: float = 120) -> Ran:
        proc = self.spawn(*args, env=env)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return Ran("hang", out, err)
        return Ran(proc.returncode, out, err)

    # -- recording ------------------------------------------------------------------------

    def case(self, name: str, surface: str, fn, *, keep=None) -> Outcome:
        """Run fn() -> detail (str: ok; raise Fail: not ok) and the checks every case gets.
        `keep` (a store) : its images must all still read back afterwards."""
        before = fingerprint(self.victim), fingerprint(self.cwd)
        kept = _images(keep) if keep is not None else {}
        t0 = time.perf_counter()
        try:
            detail, ok = fn() or "ok", True
        except Fail as exc:
            detail, ok = str(exc), False
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            frames = [f for f in traceback.extract_tb(exc.__traceback__)
                      if str(ROOT) in f.filename and "/bench/" not in f.filename]
            where = f" at {Path(frames[-1].filename).relative_to(ROOT)}:{frames[-1].lineno}" \
                if frames else ""
            detail, ok = f"traceback{where}: {type(exc).__name__}: {exc}"[:240], False
        after = fingerprint(self.victim), fingerprint(self.cwd)
        if after[0] != before[0]:
            ok, detail = False, f"changed a file outside the data folder; {detail}"
        if after[1] != before[1]:
            ok, detail = False, f"wrote into the working folder; {detail}"
            shutil.rmtree(self.cwd, ignore_errors=True)
            self.cwd.mkdir()
        lost = _lost(keep, kept) if keep is not None else None
        if lost:
            ok, detail = False, f"LOSS: {lost}; {detail}"
        outcome = Outcome(name, surface, ok, " ".join(str(detail).split())[:240],
                          round(time.perf_counter() - t0, 2))
        self.outcomes.append(outcome)
        print(f"  {'ok  ' if ok else 'FAIL'} {surface:9} {name}: {outcome.detail[:110]}",
              flush=True)
        return outcome

    def stray_temp(self) -> list[str]:
        """Entries the run left in the system's temp folder."""
        now = set(os.listdir(tempfile.gettempdir()))
        return sorted(n for n in now - self._tmp_before if n.startswith("mtedit-chat"))


class Fail(Exception):
    """The case found a problem; the text says what."""


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Fail(what)


def clean_said(text: str, what: str = "") -> None:
    problem = leaks(text)
    if problem:
        raise Fail(f"{what}{problem}: {' '.join(text.split())[-160:]}")


def refused(ran: Ran, *, rc_ok=(1, 2), names: str | tuple = ()) -> str:
    """A command that must refuse: a non-zero status, a plain message, no traceback."""
    clean_said(ran.said)
    expect(ran.rc in rc_ok, f"exit status {ran.rc}: {ran.said[-160:]}")
    expect(bool(ran.err.strip() or ran.out.strip()), "refused without a word")
    names = (names,) if isinstance(names, str) else names
    if names:
        expect(any(n.lower() in ran.said.lower() for n in names),
               f"does not name {' or '.join(names)}: {ran.said[-160:]}")
    return ran.said.strip().splitlines()[-1][:160]


def _images(store) -> dict[str, str]:
    from storage.doctor import check

    kept = {}
    for conv in store.list_conversations():
        for node in store.nodes(conv.id):
            try:
                kept[node.id] = hashlib.sha256(store.read_image(node)).hexdigest()
            except Exception:  # noqa: BLE001, S110 - damaged on purpose before: not ours to count
                pass
    store._breakit_damage = check(store).damaged
    return kept


def _lost(store, kept: dict[str, str]) -> str | None:
    from storage.doctor import check

    for node_id, digest in kept.items():
        try:
            if hashlib.sha256(store.read_image(node_id)).hexdigest() != digest:
                return f"image {node_id} changed"
        except Exception as exc:  # noqa: BLE001
            return f"image {node_id} no longer reads ({' '.join(str(exc).split())[:80]})"
    if not getattr(store, "_breakit_damage", False) and check(store).damaged:
        return "doctor finds damage"
    return None
