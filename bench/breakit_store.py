"""Break-it groups on the data folder and on signals: a symlinked blob shard, a database
deleted, replaced or read-only, a full disk (a small tmpfs where this process may mount
one), and SIGTERM in the middle of an edit run by `mtedit chat`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bench import breakit_files as files
from bench.breakit_cases import _said_plain
from bench.breakit_core import Probe, clean_said, expect, refused


def _store(data: Path):
    from storage import Store

    return Store.open(data_dir=data)


def _seed(probe: Probe, data: Path) -> None:
    """A data folder holding one conversation: the example scene and one edit."""
    from bench.breakit_chat import forget, open_chat, say

    chat = open_chat(probe, data)
    say(chat, "make the circle yellow", stores=True, moves=None)
    forget(chat)


def _db_args(data: Path) -> list[str]:
    return ["--data-dir", str(data), "--db", str(data / "mtedit.db")]


def data_folder(probe: Probe) -> None:
    data = probe.root / "data-links"
    _seed(probe, data)
    store = _store(data)
    blobs = data / "blobs"
    from storage.transfer import export_conversation

    export_conversation(store, store.list_conversations()[0].id, probe.inputs / "exported.zip")

    def shard_link():
        (blobs / "ff").symlink_to(probe.victim, target_is_directory=True)
        try:
            ran = probe.cli("doctor", "--fix", "--grace", "0", *_db_args(data))
        finally:
            (blobs / "ff").unlink()
        clean_said(ran.said)
        return ran.said.strip().splitlines()[-1][:150]

    probe.case("doctor --fix, shard is a link out", "data", shard_link, keep=store)

    def blob_link():
        sha = next(p for p in blobs.glob("??/*") if p.is_file() and len(p.name) == 62)
        saved = sha.read_bytes()
        sha.unlink()
        sha.symlink_to(probe.victim / "precious.txt")
        try:
            ran = probe.cli("doctor", "--fix", "--grace", "0", *_db_args(data))
            clean_said(ran.said)
            ran2 = probe.cli("export", store.list_conversations()[0].id, "-o",
                             str(probe.out / "linked.zip"), *_db_args(data))
            clean_said(ran2.said)
        finally:
            if sha.is_symlink():
                sha.unlink()
            sha.write_bytes(saved)
        return f"doctor: {ran.said.strip().splitlines()[-1][:70]}; export: {ran2.rc}"

    probe.case("a blob is a link out", "data", blob_link)

    def blobs_link():
        real = data / "blobs-real"
        blobs.rename(real)
        blobs.symlink_to(probe.victim, target_is_directory=True)
        try:
            ran = probe.cli("doctor", "--fix", "--grace", "0", *_db_args(data))
        finally:
            blobs.unlink()
            real.rename(blobs)
        clean_said(ran.said)
        return ran.said.strip().splitlines()[-1][:150]

    probe.case("blob folder is a link out", "data", blobs_link, keep=store)
    store.close()

    for how in ("garbage", "deleted", "empty", "truncated"):
        d = probe.root / f"data-db-{how}"
        _seed(probe, d)
        db = d / "mtedit.db"

        def run(how=how, d=d, db=db):
            for suffix in ("-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            if how == "garbage":
                db.write_bytes(os.urandom(8192))
            elif how == "deleted":
                db.unlink()
            elif how == "empty":
                db.write_bytes(b"")
            else:
                db.write_bytes(db.read_bytes()[:5000])
            ran = probe.cli("history", *_db_args(d))
            ran2 = probe.cli("doctor", *_db_args(d))
            clean_said(ran.said + ran2.said)
            if how == "deleted":
                expect(ran.rc != 0 or "no conversation" in ran.said.lower(),
                       f"history reads a deleted database as fine: {ran.said[:100]}")
            return f"history {ran.rc}: {ran.said.strip()[-70:]}; doctor {ran2.rc}"

        probe.case(f"database {how}", "data", run)

    if not files.mount_tmpfs(probe.root / "small", "6m"):
        probe.case("full disk / read-only", "data", lambda: "skipped: cannot mount a tmpfs here")
        return
    small = probe.root / "small" / "data"
    _seed(probe, small)
    store = _store(small)

    def full_edit():
        from bench.breakit_chat import open_chat, say

        chat = open_chat(probe, small)
        files.fill(small.parent)
        try:
            said = say(chat, "make the square red", stores=None, moves=None)
            expect("full" in said.lower() or "space" in said.lower(),
                   f"a full disk not named: {said[:150]}")
            ran = probe.cli("import", str(probe.inputs / "exported.zip"), *_db_args(small))
            clean_said(ran.said)
        finally:
            for f in small.parent.glob("filler*"):
                f.unlink()
        return said.splitlines()[0][:150]

    probe.case("disk full: edit and import", "data", full_edit, keep=store)

    def full_start():
        d = probe.root / "small" / "fresh"
        files.fill(small.parent)
        try:
            ran = probe.cli("import", str(probe.inputs / "exported.zip"), *_db_args(d))
        finally:
            for f in small.parent.glob("filler*"):
                f.unlink()
        return refused(ran, rc_ok=(1, 2), names="full")

    probe.case("disk full: first start", "data", full_start, keep=store)

    def read_only():
        store.close()
        ro = probe.root / "small-ro"
        expect(files.bind_read_only(probe.root / "small", ro), "cannot mount read-only")
        small_ro = ro / "data"
        try:
            from bench.breakit_chat import open_chat, say

            ran = probe.cli("doctor", "--fix", *_db_args(small_ro))
            clean_said(ran.said)
            chat = None
            try:
                chat = open_chat(probe, small_ro)
            except Exception as exc:  # noqa: BLE001 - the app shows explain_error
                from agent import explain_error

                clean_said(explain_error(exc))
                return f"opening refused: {explain_error(exc)[:120]}"
            said = say(chat, "make the square red", stores=False, moves=None)
        finally:
            files.unmount(ro)
        return said.splitlines()[0][:150]

    probe.case("read-only data folder", "data", read_only)


def signals(probe: Probe) -> None:
    """SIGTERM to `mtedit chat` while the second of three steps runs."""
    d = probe.root / "data-sigterm"
    script = probe.inputs / "three.yaml"
    scene = probe.inputs / "scene.png"
    scene.write_bytes(files.scene_png())
    script.write_text(
        "turns:\n  - text: " + files.SCENE + "\n    images: [" + str(scene) + "]\n"
        "  - make the circle blue and add a small yellow triangle at the top and make the "
        "background red\n")
    d.mkdir(parents=True, exist_ok=True)

    def sigterm():
        proc = probe.spawn("chat", "--script", str(script), *_db_args(d))
        t0 = time.time()
        nodes = 0
        while time.time() - t0 < 150 and proc.poll() is None:
            time.sleep(0.3)
            try:
                store = _store(d)
                nodes = store.counts().get("image_nodes", 0)
                store.close()
            except Exception:  # noqa: BLE001, S112 - not created yet
                continue
            if nodes >= 2:
                break
        expect(proc.poll() is None, f"the edit ended before the signal (nodes {nodes})")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        clean_said(err, "stderr ")
        expect(proc.returncode == 143, f"exit status {proc.returncode}")
        store = _store(d)
        jobs = store.list_jobs(status=("queued", "running"))
        expect(not jobs, f"{len(jobs)} job(s) still marked running after SIGTERM")
        from agent import ChatSession, load_backend
        from bench.breakit_chat import say
        from mtedit.settings import Settings

        settings = Settings.from_env(env={**probe.env, "MTEDIT_DATA_DIR": str(d)})
        chat = ChatSession.open(settings, store.list_conversations()[0].id, store=store,
                                backend=load_backend(settings))
        said = say(chat, "continue", stores=None, moves=None)
        expect("still running" not in said.lower(), f"'continue' answers: {said[:120]}")
        return f"exit 143, {nodes} images kept; continue: {said.splitlines()[0][:80]}"

    probe.case("SIGTERM mid-edit, then continue", "signal", sigterm)

    def at_exit():
        ran = probe.run_child("doctor", *_db_args(d), timeout=120)
        return _said_plain(ran)

    probe.case("a plain command exits cleanly", "signal", at_exit)


GROUPS = {"data": data_folder, "signals": signals}
