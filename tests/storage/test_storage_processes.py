"""Real processes: SIGKILL in the middle of adding nodes, and two writers at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import Store
from storage.cli import run as mtedit
from storage.doctor import check
from storage.testing import make_png

ROOT = Path(__file__).resolve().parents[2]

# argv: data_dir conversation_id parent_id label count [go_file]
WRITER = r"""
import os, sys, time
from pathlib import Path
from storage import Store
from storage.testing import make_png

data, conv, parent, label, count = sys.argv[1:6]
go = Path(sys.argv[6]) if len(sys.argv) > 6 else None
store = Store.open(data_dir=data)
while go is not None and not go.exists():
    time.sleep(0.005)
for i in range(int(count)):
    latent = os.urandom(1 << 20)  # 1 MiB, like a 1024 px FLUX latent: blob writes take time
    node = store.add_edit(parent, make_png(16, 16, f"{label}{i}{latent[:8].hex()}"), latent,
                          caption=f"{label} step {i}", instruction=f"{label} {i}", preset="mtc")
    store.add_message(conv, "assistant", f"{label} {i}", node_ids=[node.id], root=True)
    parent = node.id
    print(node.id, flush=True)
"""


def start_writer(*args) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *map(str, args)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def assert_consistent(store: Store) -> None:
    """Every node has its image and latent, intact; every message's nodes exist."""
    for conv in store.list_conversations():
        nodes = {n.id: n for n in store.nodes(conv.id)}
        for node in nodes.values():
            assert store.read_image(node).startswith(b"\x89PNG")
            if node.kind == "edit":
                assert len(store.read_latent(node)) == 1 << 20
            assert node.parent_id is None or node.parent_id in nodes
        for msg in store.messages(conv.id):
            assert set(msg.node_ids) <= set(nodes)


def test_sigkill_mid_write_leaves_consistent_store_and_doctor_cleans(tmp_path):
    data = tmp_path / "data"
    with Store.open(data_dir=data) as store:
        conv = store.create_conversation("crash")
        root = store.add_upload(conv.id, make_png(seed="root"), "root")
    rng = random.Random(1234)
    written = 0
    for round_ in range(4):
        proc = start_writer(data, conv.id, root.id, f"r{round_}", 1000)
        first = proc.stdout.readline()  # wait until it is adding nodes
        assert first, proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        written += 1 + len(proc.stdout.read().split())
        with Store.open(data_dir=data) as store:  # recovers from the killed writer
            assert not check(store).missing
    with Store.open(data_dir=data) as store:
        nodes = store.nodes(conv.id)
        assert len(nodes) >= 1 + written  # every node a writer reported is there
        before = check(store)
        assert not before.missing and not before.corrupt
        assert mtedit(["doctor", "--data-dir", str(data), "--fix", "--grace", "0"]) == 0
        after = check(store)
        assert after.ok and after.orphans == [] and after.temp_files == []
        assert set(store.blobs) == set(store.referenced_blobs())
        assert_consistent(store)
        assert len(store.nodes(conv.id)) == len(nodes)


def test_two_processes_write_one_database_at_once(tmp_path):
    data = tmp_path / "data"
    with Store.open(data_dir=data) as store:
        conv = store.create_conversation("shared")
        root = store.add_upload(conv.id, make_png(seed="root"), "root")
    go = tmp_path / "go"
    procs = [start_writer(data, conv.id, root.id, label, 15, go) for label in ("a", "b")]
    time.sleep(1.0)  # both processes import and open the store, then start together
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert len(out.split()) == 15
    with Store.open(data_dir=data) as store:
        nodes = store.nodes(conv.id)
        assert len(nodes) == 31
        for label in ("a", "b"):
            chain = [n for n in nodes if n.instruction and n.instruction.startswith(label + " ")]
            assert [n.depth for n in chain] == list(range(1, 16))
        assert len(store.messages(conv.id)) == 30
        assert_consistent(store)
        assert check(store).ok


@pytest.mark.parametrize("n", [2])
def test_concurrent_first_open_migrates_once(tmp_path, n):
    """Processes opening a new database at the same moment: one migrates, none fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    code = "import sys; from storage import Store; Store.open(data_dir=sys.argv[1]).create_conversation()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=env,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read()
    with Store.open(data_dir=tmp_path) as store:
        assert len(store.list_conversations()) == n
