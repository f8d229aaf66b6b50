"""Break-it groups on the command line and the store: bad settings, bad arguments, crafted
conversation zips, a damaged or full data folder, SIGTERM in the middle of an edit."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from bench import breakit_files as files
from bench.breakit_core import Fail, Probe, clean_said, expect, refused

# -- settings from the environment -------------------------------------------------------

BAD_SETTINGS = {  # variable: values that must stop a command with one line naming it
    "MTEDIT_MAX_SIDE": ["abc", "0", "-5", "1e9", "nan", "9" * 40],
    "MTEDIT_DEVICE": ["banana", "cuda:99"],
    "MTEDIT_DTYPE": ["int8"],
    "MTEDIT_THREADS": ["-1", "1e9"],
    "MTEDIT_IMPORT_MAX_MB": ["-1", "nan"],
    "MTEDIT_PLANNER": ["evil"],
    "MTEDIT_PLANNER_TIMEOUT": ["inf", "-3"],
    "MTEDIT_JOB_STALE_S": ["-1"],
    "MTEDIT_DATABASE_URL": ["not a url", "mysql://nobody@127.0.0.1:1/x",
                            "postgresql://nobody@127.0.0.1:1/x", "sqlite:////proc/nope/x.db"],
}


def settings(probe: Probe) -> None:
    for key, values in BAD_SETTINGS.items():
        for value in values:
            data = probe.root / "data-settings"

            def run(key=key, value=value, data=data):
                ran = probe.cli("doctor", env={key: value, "MTEDIT_DATA_DIR": str(data)})
                said = refused(ran, names=(key, value.split("//")[-1]))
                if key == "MTEDIT_DATABASE_URL":
                    expect(not data.exists(), "created the data folder for a database it "
                           "could not open")
                return said

            probe.case(f"{key}={value[:24]}", "settings", run)

    cfg = probe.inputs
    (cfg / "list.yaml").write_text("- a\n- b\n")
    (cfg / "unknown.yaml").write_text("colour: blue\n")
    (cfg / "binary.yaml").write_bytes(os.urandom(300))
    (cfg / "laughs.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)))
    (cfg / "maxside.yaml").write_text("max_side: 1e12\n")
    for name in ("list", "unknown", "binary", "laughs", "maxside"):
        probe.case(f"MTEDIT_CONFIG={name}.yaml", "settings", lambda name=name: refused(
            probe.cli("doctor", env={"MTEDIT_CONFIG": str(cfg / f"{name}.yaml")}),
            names=("MTEDIT_CONFIG", f"{name}.yaml")))
    probe.case("MTEDIT_CONFIG=a folder", "settings", lambda: refused(
        probe.cli("doctor", env={"MTEDIT_CONFIG": str(probe.inputs)}),
        names=("MTEDIT_CONFIG", str(probe.inputs))))
    (probe.inputs / "a-file").write_text("x")
    probe.case("MTEDIT_DATA_DIR=a file", "settings", lambda: refused(
        probe.cli("doctor", env={"MTEDIT_DATA_DIR": str(probe.inputs / "a-file")})))
    probe.case("MTEDIT_DATA_DIR=/proc/1/x", "settings", lambda: refused(
        probe.cli("doctor", env={"MTEDIT_DATA_DIR": "/proc/1/x"})))


# -- the CLI's own arguments ---------------------------------------------------------------


def cli(probe: Probe) -> None:
    from bench.breakit_chat import chat_of

    chat_of(probe)  # a store with a conversation, for history / export
    scene = probe.inputs / "scene.png"
    scene.write_bytes(files.scene_png())
    (probe.inputs / "zero.png").write_bytes(b"")
    (probe.inputs / "half.png").write_bytes(files.scene_png()[:200])
    (probe.inputs / "bomb.png").write_bytes(files.huge_header_png())
    text = probe.inputs / "notes.txt"
    text.write_text("not an image")
    src = ["--source", files.SCENE, "--target", files.SCENE.replace("red circle", "blue circle")]
    bad_edits = {
        "edit: missing input": ["edit", str(probe.inputs / "nope.png"), *src, "-o", "o.png"],
        "edit: folder as input": ["edit", str(probe.inputs), *src, "-o", "o.png"],
        "edit: text as input": ["edit", str(text), *src, "-o", "o.png"],
        "edit: zero-byte image": ["edit", str(probe.inputs / "zero.png"), *src, "-o", "o.png"],
        "edit: truncated image": ["edit", str(probe.inputs / "half.png"), *src, "-o", "o.png"],
        "edit: 100000x100000 header": ["edit", str(probe.inputs / "bomb.png"), *src, "-o", "o.png"],
        "edit: --steps -1": ["edit", str(scene), *src, "--steps", "-1", "-o", "o.png"],
        "edit: --steps 1e9": ["edit", str(scene), *src, "--steps", "1000000000", "-o", "o.png"],
        "edit: --set eta=nan": ["edit", str(scene), *src, "--set", "eta=nan", "-o", "o.png"],
        "edit: --set nope=1": ["edit", str(scene), *src, "--set", "nope=1", "-o", "o.png"],
        "edit: --seed -1": ["edit", str(scene), *src, "--seed", "-1", "-o", "o.png"],
        "edit: --preset evil": ["edit", str(scene), *src, "--preset", "evil", "-o", "o.png"],
        "edit: --max-side 0": ["edit", str(scene), *src, "--max-side", "0", "-o", "o.png"],
        "edit: -o unwritable": ["edit", str(scene), *src, "-o", "/proc/nope/o.png"],
        "edit: empty target": ["edit", str(scene), "--source", "a", "--target", "", "-o", "o.png"],
        "generate: --width 0": ["generate", "--prompt", "a red circle", "--width", "0", "-o", "g.png"],
        "generate: --width 1e6": ["generate", "--prompt", "x", "--width", "1000000", "-o", "g.png"],
        "doctor: --grace -5": ["doctor", "--grace", "-5"],
        "doctor: --grace nan": ["doctor", "--grace", "nan"],
        "doctor: --grace inf": ["doctor", "--grace", "inf"],
        "doctor: --data-dir a file": ["doctor", "--data-dir", str(text)],
        "history: unknown id": ["history", "ffffffffffffffff"],
        "export: unknown id": ["export", "ffffffffffffffff", "-o", str(probe.out / "x.zip")],
        "export: empty prefix": ["export", "", "-o", str(probe.out / "x.zip")],
        "export: -o unwritable": ["export", "0", "-o", "/proc/nope/x.zip"],
        "import: missing file": ["import", str(probe.inputs / "nope.zip")],
        "import: a folder": ["import", str(probe.inputs)],
        "import: not a zip": ["import", str(text)],
        "import: zero bytes": ["import", str(probe.inputs / "zero.png")],
        "chat: missing script": ["chat", "--script", str(probe.inputs / "nope.yaml")],
        "chat: binary script": ["chat", "--script", str(probe.inputs / "bomb.png")],
        "plan: empty caption": ["plan", "make it blue", "--caption", ""],
        "plan: 100k request": ["plan", "blue " * 20000, "--caption", "a red circle"],
        "worker: no queue": ["worker"],
        "gc (no such command)": ["gc"],
    }
    for name, args in bad_edits.items():
        probe.case(name, "cli", lambda args=args: refused(probe.cli(*args)))
    (probe.inputs / "escape.yaml").write_text(json.dumps(
        {"turns": [{"text": "a red square", "images": ["../../../../../../etc/passwd"]}]}))
    probe.case("chat: script image outside", "cli", lambda: _said_plain(
        probe.cli("chat", "--script", str(probe.inputs / "escape.yaml"))))

    def worker_refused():
        """A worker waits for its queue (a service may start before its broker), but must
        say which queue it cannot reach, in a line, without a traceback."""
        import signal
        import threading

        proc = probe.spawn("worker", env={"MTEDIT_QUEUE_URL": "redis://127.0.0.1:1/0"})
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        reader.start()
        t0 = time.time()
        while time.time() - t0 < 90 and not any("127.0.0.1:1" in line for line in err):
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(5)
        said = "".join(err)
        clean_said(said.replace("Error 111", "error 111"))  # redis-py's "Error 111 connecting"
        expect(any("127.0.0.1:1" in line for line in err), f"never names the queue: {said[-150:]}")
        return next(line for line in err if "127.0.0.1:1" in line).strip()[-150:]

    probe.case("worker: unreachable queue", "cli", worker_refused)


def _said_plain(ran) -> str:
    clean_said(ran.said)
    expect(ran.rc in (0, 1, 2), f"exit status {ran.rc}")
    return (ran.said.strip().splitlines() or ["(nothing)"])[-1][:150]


# -- crafted conversation zips ------------------------------------------------------------


def _base(probe: Probe):
    """A stored conversation (the example scene and one edit) and its export."""
    from bench.breakit_chat import chat_of, say

    chat = chat_of(probe)
    chat.new_conversation("to export")
    say(chat, files.SCENE, [("scene.png", files.scene_png())], stores=True, moves=None)
    say(chat, "make the circle yellow", stores=True, moves=None)
    data = chat.export_zip()
    return chat, data


def crafted_zips(doc: dict, blobs: dict[str, bytes]) -> dict[str, bytes]:
    """name -> zip bytes: each lies about something."""
    sha = next(iter(blobs))[len("blobs/"):]
    png_sha = doc["nodes"][0]["image_sha256"]

    def edited(fn):
        d = json.loads(json.dumps(doc))
        fn(d)
        return files.make_zip(d, blobs)

    def node0(**kw):
        return edited(lambda d: d["nodes"][0].update(kw))

    big = files.png((4096, 4096), (9, 9, 9))
    return {
        "traversal name": files.make_zip(doc, blobs, [("../../victim/pwned", b"x")]),
        "absolute name": files.make_zip(doc, blobs, [("/tmp/breakit-pwned", b"x")]),
        "blobs/../ name": files.make_zip(doc, blobs, [("blobs/../../victim/precious.txt", b"x")]),
        "symlink entry": files.make_zip(doc, {k: v for k, v in blobs.items() if sha not in k},
                                        [files.symlink_entry(f"blobs/{sha}", "/etc/passwd")]),
        "zip bomb blob": files.make_zip(doc, blobs, [files.bomb_entry("blobs/" + "0" * 64,
                                                                      300 * 2**20)]),
        "huge manifest": files.make_zip(None, blobs, raw_manifest=json.dumps(
            {**doc, "pad": "x" * (80 * 2**20)}).encode()),
        "deep json": files.make_zip(None, blobs, raw_manifest=b"[" * 200_000 + b"]" * 200_000),
        "int of 5000 digits": files.make_zip(None, blobs, raw_manifest=json.dumps(doc).replace(
            '"width": ', '"width": ' + "9" * 5000 + ", \"w\": ", 1).encode()),
        "NaN timing": node0(timings={"edit": float("nan")}),
        "lone surrogate": files.make_zip(None, blobs, raw_manifest=json.dumps(
            {**doc, "conversation": {**doc["conversation"], "title": "\ud800evil"}}).encode()),
        "duplicate manifest": files.make_zip(doc, blobs, [("conversation.json", b"{}")]),
        "duplicate blob": files.make_zip(doc, blobs, [(f"blobs/{png_sha}", b"not the png")]),
        "hash mismatch": files.make_zip(doc, {**blobs, f"blobs/{png_sha}": big}),
        "blob not a png": files.make_zip(doc, {**blobs, f"blobs/{png_sha}": b"x" * 100}),
        "missing blob": files.make_zip(doc, {k: v for k, v in blobs.items() if png_sha not in k}),
        "width -1": node0(width=-1),
        "height 1e12": node0(height=10**12),
        "kind evil": node0(kind="evil"),
        "size lies": node0(width=17, height=9),
        "version true": edited(lambda d: d.update(version=True)),
        "version -7": edited(lambda d: d.update(version=-7)),
        "format other": edited(lambda d: d.update(format="zip-of-doom")),
        "conversation [1,2]": edited(lambda d: d.update(conversation=[1, 2])),
        "meta [1,2]": edited(lambda d: [m.update(meta=[1, 2]) for m in d["messages"][:1]]),
        "parent cycle": edited(lambda d: d["nodes"][0].update(parent_id=d["nodes"][-1]["id"])),
        "parent elsewhere": node0(parent_id="ffffffffffffffff"),
        "head elsewhere": edited(lambda d: d["conversation"].update(head_node_id="nothere")),
        "escapes in title": edited(lambda d: d["conversation"].update(title="\x1b[2Jpwn\u202e")),
        "settings absurd": edited(lambda d: d["conversation"].update(
            settings={"steps": 10**12, "preset": "evil", "seed": -1, "eta": "nan"})),
        "params absurd": node0(params={"steps": 10**12, "size": [1e308, -1]}),
        "encrypted flag": files.encrypted_flag(files.make_zip(doc, blobs)),
        "unknown compression": files.patch_compression(files.make_zip(doc, blobs),
                                                       "conversation.json", 99),
        "empty zip": files.make_zip(None, {}, raw_manifest=b""),
    }


def imports(probe: Probe) -> None:
    chat, data = _base(probe)
    store = chat.store
    doc, blobs = files.read_zip(data)
    before = {c.id for c in store.list_conversations()}
    for name, zdata in crafted_zips(doc, blobs).items():
        path = probe.inputs / f"{name.replace(' ', '_').replace('/', '_')}.zip"
        path.write_bytes(zdata)

        def app_side(zdata=zdata, name=name):
            n0 = len(store.list_conversations())
            try:
                cid = chat.import_zip(zdata)
            except Exception as exc:  # noqa: BLE001 - the page shows explain_error(exc)
                from agent import explain_error
                from storage import StorageError

                # a refusal the product meant; anything else is a crash caught by the page
                expect(isinstance(exc, (StorageError, ValueError)) and not isinstance(
                    exc, UnicodeError), f"crash: {type(exc).__name__}: {str(exc)[:120]}")
                said = explain_error(exc)
                clean_said(said)
                expect(len(store.list_conversations()) == n0, "refused but left a conversation")
                return f"refused: {said[:140]}"
            _use_imported(chat, cid, name)
            return f"imported as {cid}"

        probe.case(name, "import", app_side, keep=store)
    for name in ("traversal name", "symlink entry", "settings absurd", "conversation [1,2]",
                 "deep json", "hash mismatch"):
        path = probe.inputs / f"{name.replace(' ', '_').replace('/', '_')}.zip"
        probe.case(f"cli {name}", "import", lambda path=path: _said_plain(
            probe.cli("import", str(path), "--data-dir", str(store.data_dir), "--db",
                      str(store.data_dir / "mtedit.db"))), keep=store)
    probe.case("nothing written outside by imports", "import", lambda: (
        "none" if not Path("/tmp/breakit-pwned").exists() else (_ for _ in ()).throw(
            Fail("/tmp/breakit-pwned was written"))))
    chat.switch(next(iter(before)))


def _use_imported(chat, cid: str, name: str) -> None:
    """An imported conversation must work: history, an exact op, an edit."""
    from bench.breakit_chat import say

    chat.switch(cid)
    say(chat, "show the history", stores=None, moves=None)
    for node in chat.lineage():
        expect(0 < (node.width or 0) <= 8192 and 0 < (node.height or 0) <= 8192,
               f"a node of {node.width}x{node.height} was accepted")
    say(chat, "flip it", stores=None, moves=None)
    say(chat, "make the circle blue", stores=None, moves=None)


GROUPS = {"settings": settings, "cli": cli, "imports": imports}
