"""Store timings: `python -m bench.storage [N]` adds N edits (PNG 512 px + 1 MiB latent)
to a throw-away store in a temp folder and prints per-operation figures."""

from __future__ import annotations

import os
import sys
import tempfile
import time

from storage import Store, doctor
from storage.testing import make_png


def main(n: int = 40) -> None:
    with tempfile.TemporaryDirectory() as d, Store.open(data_dir=d) as s:
        conv = s.create_conversation()
        pngs = [make_png(512, 512, i) for i in range(n)]
        latents = [os.urandom(1 << 20) for _ in range(n)]
        parent = s.add_upload(conv.id, make_png(512, 512, "root"), "root").id
        t = time.perf_counter()
        for i in range(n):
            parent = s.add_edit(parent, pngs[i], latents[i], f"caption {i}", f"step {i}").id
        add = (time.perf_counter() - t) / n
        t = time.perf_counter()
        path = s.path(parent)
        path_t = time.perf_counter() - t
        t = time.perf_counter()
        for node in path[1:]:
            s.read_latent(node)
        read = (time.perf_counter() - t) / n
        t = time.perf_counter()
        s.find_nodes(conv.id, "step 7")
        find = time.perf_counter() - t
        t = time.perf_counter()
        report = doctor.check(s)
        check_s = time.perf_counter() - t
    print(f"add_edit (PNG {len(pngs[0]) / 1e3:.0f} KB + latent 1 MiB): {add * 1e3:.1f} ms/node")
    print(f"path of depth {len(path) - 1}: {path_t * 1e3:.1f} ms")
    print(f"read_latent, hash-verified: {read * 1e3:.1f} ms")
    print(f"find_nodes over {n + 1} nodes: {find * 1e3:.1f} ms")
    print(f"doctor over {report.blobs} blobs: {check_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
