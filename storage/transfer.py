"""Export a conversation to a zip file and import it into any store, with new ids.

The zip holds `conversation.json` (the conversation, its image nodes, messages and plans)
and `blobs/<sha256>` for every image, latent and region mask. Jobs are not exported.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.blobs import sha256_hex
from storage.errors import BlobCorruptError, BlobLinkError, BlobMissingError, StorageError
from storage.gc import hold_blobs
from storage.ids import new_id, png_size
from storage.limits import (
    MAX_BLOB_BYTES,
    MAX_MANIFEST_BYTES,
    LimitError,
    archive_limit,
    check_png,
    check_safetensors,
)
from storage.manifest import FORMAT, Manifest, ManifestError, read_manifest
from storage.models import ConversationRow, ImageNodeRow, MessageRow, PlanRow, utcnow
from storage.space import said_when_full
from storage.walks import ancestors

if TYPE_CHECKING:
    from storage.records import Conversation
    from storage.repository import Store

log = logging.getLogger(__name__)
VERSION = 2  # 2: messages carry kind and meta, the conversation its settings
MANIFEST = "conversation.json"


def _plain(record) -> dict[str, Any]:
    d = asdict(record)
    for key, value in d.items():
        if isinstance(value, datetime):
            d[key] = value.isoformat()
        elif isinstance(value, tuple):
            d[key] = list(value)
    return d


def export_conversation(store: Store, conversation_id: str, path: Path | str) -> Path:
    """Write the conversation (rows as JSON + its blobs) to a zip file. Every blob is
    verified on the way: a missing or damaged one refuses the export (naming each, with
    its node) and leaves no file behind, not even a partial one."""
    path = Path(path)
    conv = store.get_conversation(conversation_id)
    nodes = store.nodes(conversation_id)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utcnow().isoformat(),
        "conversation": _plain(conv),
        "nodes": [_plain(n) for n in nodes],
        "messages": [_plain(m) for m in store.messages(conversation_id)],
        "plans": [_plain(p) for p in store.plans(conversation_id)],
    }
    users: dict[str, list[str]] = {}
    for n in nodes:
        for sha, what in ((n.image_sha256, "image"), (n.latent_sha256, "latent"),
                          (n.mask_sha256, "region mask")):
            if sha:
                users.setdefault(sha, []).append(f"the {what} of node {n.id}")
    problems: list[str] = []
    with said_when_full("the export's folder", path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(MANIFEST, json.dumps(doc, indent=1, ensure_ascii=False))
                for sha in sorted(users):
                    try:
                        zf.writestr(f"blobs/{sha}", store.blobs.get(sha))  # verified
                    except (BlobMissingError, BlobCorruptError) as exc:
                        state = "corrupt" if isinstance(exc, BlobCorruptError) else "missing"
                        if isinstance(exc, BlobLinkError):
                            state = "a symbolic link (not followed)"
                        problems.append(f"{' and '.join(users[sha])} (blob {sha[:12]}...) is "
                                        f"{state}")
            if problems:
                raise StorageError(
                    f"cannot export conversation {conversation_id}: "
                    + "; ".join(problems[:10]) + (" ..." if len(problems) > 10 else "")
                    + ". Nothing was written; run `mtedit doctor` to see what is damaged")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def _time(value: datetime | None) -> datetime:
    return value if value is not None else utcnow()


def import_conversation(store: Store, path: Path | str, max_bytes: int | None = None) -> Conversation:
    """Import an export zip. Everything is checked before a row is written: the manifest
    against one schema (storage/manifest.py: types, ranges, known kinds, references),
    sizes while streaming (the archive and all it unpacks to at most `max_bytes`, default
    the `import_max_mb` setting; each blob at most MAX_BLOB_BYTES), blob kinds (a PNG for
    an image, safetensors for a latent) and each image's size against its row. A refused
    import writes no row and removes the blob files it wrote."""
    path = Path(path)
    limit = archive_limit() if max_bytes is None else int(max_bytes)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StorageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > limit:
        raise LimitError(f"{path}: {_mb(size)} is larger than the import limit of {_mb(limit)} "
                         "(setting import_max_mb, MTEDIT_IMPORT_MAX_MB)")
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise StorageError(f"{path}: not a conversation export ({exc})") from None
    budget = [limit]
    with zf:
        try:
            doc = json.loads(_read(zf, MANIFEST, min(MAX_MANIFEST_BYTES, limit), budget, path))
        except KeyError as exc:
            raise StorageError(f"{path}: missing {MANIFEST} ({exc})") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise StorageError(f"{path}: unreadable {MANIFEST} ({exc})") from None
        except RecursionError:
            doc = None
        if doc is None or _nesting(doc) > MAX_NESTING:
            raise StorageError(f"{path}: {MANIFEST} is nested deeper than {MAX_NESTING} levels; "
                               "an export never is")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StorageError(f"{path}: not a {FORMAT} file")
        try:
            manifest = read_manifest(doc)
        except ManifestError as exc:
            raise ManifestError(f"{path}: malformed {MANIFEST}: {exc}") from None
        members = set(zf.namelist())
        for name in members:
            if name != MANIFEST and not re.fullmatch(r"blobs/[0-9a-f]{64}", name):
                raise StorageError(f"{path}: unexpected member {name}")
        written: list[str] = []
        try:
            for sha, kind in manifest.blobs().items():
                _take_blob(store, manifest, zf, members, sha, kind, budget, path, written)
            return _insert(store, manifest, zf)
        except BaseException:
            _remove_written(store, written)
            raise


MAX_NESTING = 32  # lists and objects inside each other in conversation.json


def _nesting(doc: Any) -> int:
    """How deep lists and objects nest in `doc` (walked without recursion)."""
    deepest, todo = 0, [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_NESTING:
                return depth
            todo.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                  else value))
    return deepest


def _take_blob(store: Store, manifest: Manifest, zf: zipfile.ZipFile, members: set[str],
               sha: str, kind: str, budget: list[int], path: Path, written: list[str]) -> None:
    """Check one blob of the archive (or the store's copy) and store it if new."""
    if f"blobs/{sha}" not in members:
        if not store.blobs.exists(sha):
            raise StorageError(f"{path}: a node needs blob {sha}, not in the archive")
        data = store.blobs.get(sha) if kind != "latent" else None
    else:
        data = _read(zf, f"blobs/{sha}", MAX_BLOB_BYTES, budget, path)
        if sha256_hex(data) != sha:
            raise StorageError(f"{path}: blob {sha} is damaged in the archive")
        problem = check_png(data) if kind != "latent" else check_safetensors(data)
        if problem:
            raise LimitError(f"{path}: blob {sha} should be the {kind} of a node but is "
                             f"{problem}")
    if kind != "latent":  # an image or a region mask: the size of its node's image
        width, height = png_size(data)
        for n in manifest.nodes:
            for what, used in (("image", n.image_sha256), ("region mask", n.mask_sha256)):
                if used == sha and (n.width, n.height) != (width, height):
                    raise ManifestError(f"{path}: malformed {MANIFEST}: node {n.id} says "
                                        f"{n.width}x{n.height} pixels, its {what} is "
                                        f"{width}x{height}")
    if data is not None and not store.blobs.exists(sha):
        store.blobs.put(data)
        written.append(sha)


def _remove_written(store: Store, written: list[str]) -> None:
    """Take back the blob files a refused import wrote (those no row uses: the same
    collection doctor runs, under the blob lock)."""
    if not written:
        return
    from storage.gc import collect_orphans

    try:
        collect_orphans(store, written, grace=0)
    except Exception:
        log.warning("could not remove the blobs of a refused import; `mtedit doctor --fix` "
                    "will", exc_info=True)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _read(zf: zipfile.ZipFile, name: str, cap: int, budget: list[int], path: Path) -> bytes:
    """A member's bytes, streamed: LimitError as soon as it exceeds `cap` or the archive's
    remaining budget (what the zip's headers claim is not trusted)."""
    chunks, total = [], 0
    try:
        with zf.open(name) as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
                if total > cap:
                    raise LimitError(f"{path}: {name} unpacks to more than {_mb(cap)} "
                                     "(the largest an image or latent can be)")
                if total > budget[0]:
                    raise LimitError(f"{path}: unpacks to more than the import limit "
                                     "(setting import_max_mb, MTEDIT_IMPORT_MAX_MB)")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise StorageError(f"{path}: {name} cannot be unpacked ({exc})") from None
    budget[0] -= total
    return b"".join(chunks)


def _insert(store: Store, manifest: Manifest, zf: zipfile.ZipFile) -> Conversation:
    conv = manifest.conversation
    node_ids = {n.id: new_id() for n in manifest.nodes}
    message_ids = {m.id: new_id() for m in manifest.messages}
    depth, mdepth = manifest.depths(manifest.nodes), manifest.depths(manifest.messages)
    by_old = {n.id: n for n in manifest.nodes}

    def root_of(old_id: str) -> str:
        return ancestors(old_id, lambda i: by_old[i].parent_id, "image node")[-1]

    row_conv = ConversationRow(
        id=new_id(), title=conv.title, created_at=_time(conv.created_at),
        updated_at=utcnow(), head_node_id=node_ids.get(conv.head_node_id),
        settings=dict(conv.settings),
    )
    with store.transaction() as s:
        s.add(row_conv)
        s.flush()
        for n in sorted(manifest.nodes, key=lambda n: depth[n.id]):  # parents first
            s.add(ImageNodeRow(
                id=node_ids[n.id], conversation_id=row_conv.id,
                parent_id=node_ids[n.parent_id] if n.parent_id else None,
                root_id=node_ids[root_of(n.id)], depth=depth[n.id], kind=n.kind,
                caption=n.caption, instruction=n.instruction, target_prompt=n.target_prompt,
                focus_words=list(n.focus_words), preset=n.preset, params=dict(n.params),
                seed=n.seed, model_id=n.model_id, image_sha256=n.image_sha256,
                latent_sha256=n.latent_sha256, width=n.width, height=n.height,
                status=n.status, timings=dict(n.timings), created_at=_time(n.created_at),
                check_result=n.check_result, mask_sha256=n.mask_sha256,
            ))
            s.flush()
        for m in sorted(manifest.messages, key=lambda m: mdepth[m.id]):  # parents first
            s.add(MessageRow(
                id=message_ids[m.id], conversation_id=row_conv.id,
                parent_message_id=message_ids[m.parent_id] if m.parent_id else None,
                role=m.role, text=m.text, kind=m.kind or "text",
                meta={k: node_ids.get(v, v) if isinstance(v, str) else v  # node ids: new ones
                      for k, v in m.meta.items()},
                node_ids=[node_ids[i] for i in m.node_ids],
                created_at=_time(m.created_at),
            ))
            s.flush()
        for p in manifest.plans:
            s.add(PlanRow(
                id=new_id(), conversation_id=row_conv.id,
                message_id=message_ids[p.message_id] if p.message_id else None,
                request=p.request, steps=[dict(step) for step in p.steps], planner=p.planner,
                created_at=_time(p.created_at),
            ))
        s.flush()
        hold_blobs(s)  # a concurrent `doctor --fix` may have taken a blob: put it back
        for sha in manifest.blobs():
            if not store.blobs.exists(sha):
                store.blobs.put(zf.read(f"blobs/{sha}"))
    return store.get_conversation(row_conv.id)
