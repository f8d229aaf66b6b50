"""Export a conversation to a zip file and import it into any store, with new ids.

The zip holds `conversation.json` (the conversation, its image nodes, messages and plans)
and `blobs/<sha256>` for every image and latent. Jobs are not exported.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.blobs import sha256_hex
from storage.errors import StorageError
from storage.gc import hold_blobs
from storage.ids import new_id
from storage.limits import (
    MAX_BLOB_BYTES,
    MAX_MANIFEST_BYTES,
    LimitError,
    archive_limit,
    check_png,
    check_safetensors,
)
from storage.models import ConversationRow, ImageNodeRow, MessageRow, PlanRow, utcnow
from storage.walks import ancestors, find_cycles

if TYPE_CHECKING:
    from storage.records import Conversation
    from storage.repository import Store

FORMAT = "mtedit-conversation"
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
    """Write the conversation (rows as JSON + its blobs) to a zip file."""
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
    hashes = sorted({h for n in nodes for h in (n.image_sha256, n.latent_sha256) if h})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(doc, indent=1, ensure_ascii=False))
        for sha in hashes:
            zf.writestr(f"blobs/{sha}", store.blobs.get(sha))  # verified: never export damage
    tmp.replace(path)
    return path


def _time(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else utcnow()


def import_conversation(store: Store, path: Path | str, max_bytes: int | None = None) -> Conversation:
    """Import an export zip. Everything is checked before a row is written: sizes while
    streaming (the archive and all it unpacks to at most `max_bytes`, default the
    `import_max_mb` setting; each blob at most MAX_BLOB_BYTES), blob kinds (a PNG for an
    image, safetensors for a latent) and the trees (no cycle, no dangling parent)."""
    path = Path(path)
    limit = archive_limit() if max_bytes is None else int(max_bytes)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StorageError(f"{path}: cannot read ({exc})") from None
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
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(
            doc.get("version", 0), int
        ) or doc.get("version", 0) > VERSION:
            raise StorageError(f"{path}: not a {FORMAT} file of version <= {VERSION}")
        try:
            plan = _check_manifest(doc, path)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StorageError(
                f"{path}: malformed {MANIFEST} ({type(exc).__name__}: {exc})"
            ) from None
        members = set(zf.namelist())
        for name in members:
            if name != MANIFEST and not re.fullmatch(r"blobs/[0-9a-f]{64}", name):
                raise StorageError(f"{path}: unexpected member {name}")
        for sha, kind in plan["blobs"].items():
            if f"blobs/{sha}" not in members:
                if store.blobs.exists(sha):
                    continue
                raise StorageError(f"{path}: a node needs blob {sha}, not in the archive")
            data = _read(zf, f"blobs/{sha}", MAX_BLOB_BYTES, budget, path)
            if sha256_hex(data) != sha:
                raise StorageError(f"{path}: blob {sha} is damaged in the archive")
            problem = check_png(data) if kind == "image" else check_safetensors(data)
            if problem:
                raise LimitError(f"{path}: blob {sha} should be the {kind} of a node but is "
                                 f"{problem}")
            store.blobs.put(data)
        try:
            return _insert(store, doc, plan, path, zf)
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(
                f"{path}: malformed {MANIFEST} ({type(exc).__name__}: {exc})"
            ) from None


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


def _check_manifest(doc: dict, path: Path) -> dict:
    """Validate the trees of a manifest; returns the blobs it needs ({sha: kind}) and each
    node's and message's depth (parents first)."""
    nodes, messages = doc["nodes"], doc["messages"]
    if not isinstance(nodes, list) or not isinstance(messages, list):
        raise TypeError("nodes and messages must be lists")
    result = {"blobs": {}}
    for what, rows, parent_key in (("image node", nodes, "parent_id"),
                                   ("message", messages, "parent_id")):
        parents = {}
        for row in rows:
            ident = row["id"]
            if not isinstance(ident, str) or ident in parents:
                raise StorageError(f"{path}: {what} id {ident!r} is repeated or not a string")
            parents[ident] = row.get(parent_key)
        for ident, parent in parents.items():
            if parent is not None and parent not in parents:
                raise StorageError(f"{path}: {what} {ident} has a parent {parent} that is not "
                                   "in the archive")
        cycles = find_cycles(parents)
        if cycles:
            raise StorageError(f"{path}: {what}s {' -> '.join(cycles[0])} form a cycle; "
                               "the archive is damaged")
        depth: dict[str, int] = {}
        for ident in parents:  # no cycle: each walk stops at a root or a known depth
            chain = [ident]
            while chain[-1] not in depth and parents[chain[-1]] is not None:
                chain.append(parents[chain[-1]])
            depth.setdefault(chain[-1], 0)
            for i, node in enumerate(reversed(chain[:-1]), 1):
                depth[node] = depth[chain[-1]] + i
        result[what] = depth
    for n in nodes:
        for key, kind in (("image_sha256", "image"), ("latent_sha256", "latent")):
            sha = n.get(key)
            if sha is None and kind == "latent":
                continue
            if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise StorageError(f"{path}: malformed {MANIFEST}: node {n['id']} has a bad {key} {sha!r}")
            if result["blobs"].get(sha, kind) != kind:
                raise LimitError(f"{path}: blob {sha} is used both as an image and a latent")
            result["blobs"][sha] = kind
    return result


def _insert(store: Store, doc: dict, plan: dict, path: Path, zf: zipfile.ZipFile) -> Conversation:
    conv = doc["conversation"]
    node_ids = {n["id"]: new_id() for n in doc["nodes"]}
    message_ids = {m["id"]: new_id() for m in doc["messages"]}
    depth, mdepth = plan["image node"], plan["message"]
    by_old = {n["id"]: n for n in doc["nodes"]}

    def root_of(old_id: str) -> str:
        return ancestors(old_id, lambda i: by_old[i]["parent_id"], "image node")[-1]

    row_conv = ConversationRow(
        id=new_id(), title=str(conv.get("title", ""))[:200], created_at=_time(conv.get("created_at")),
        updated_at=utcnow(), head_node_id=node_ids.get(conv.get("head_node_id")),
        settings=conv.get("settings") or {},
    )
    with store.transaction() as s:
        s.add(row_conv)
        s.flush()
        for n in sorted(doc["nodes"], key=lambda n: depth[n["id"]]):  # parents first
            s.add(ImageNodeRow(
                id=node_ids[n["id"]], conversation_id=row_conv.id,
                parent_id=node_ids[n["parent_id"]] if n["parent_id"] else None,
                root_id=node_ids[root_of(n["id"])], depth=depth[n["id"]], kind=n["kind"],
                caption=n["caption"], instruction=n["instruction"],
                target_prompt=n["target_prompt"], focus_words=n["focus_words"],
                preset=n["preset"], params=n["params"], seed=n["seed"], model_id=n["model_id"],
                image_sha256=n["image_sha256"], latent_sha256=n["latent_sha256"],
                width=n["width"], height=n["height"], status=n["status"], timings=n["timings"],
                created_at=_time(n["created_at"]),
            ))
            s.flush()
        for m in sorted(doc["messages"], key=lambda m: mdepth[m["id"]]):  # parents first
            s.add(MessageRow(
                id=message_ids[m["id"]], conversation_id=row_conv.id,
                parent_message_id=message_ids[m["parent_id"]] if m["parent_id"] else None,
                role=m["role"], text=m["text"], kind=m.get("kind") or "text",
                meta={k: node_ids.get(v, v) if isinstance(v, str) else v  # node ids: new ones
                      for k, v in (m.get("meta") or {}).items()},
                node_ids=[node_ids[i] for i in m["node_ids"] if i in node_ids],
                created_at=_time(m["created_at"]),
            ))
            s.flush()
        for p in doc["plans"]:
            s.add(PlanRow(
                id=new_id(), conversation_id=row_conv.id,
                message_id=message_ids.get(p["message_id"]) if p["message_id"] else None,
                request=p["request"], steps=p["steps"], planner=p["planner"],
                created_at=_time(p["created_at"]),
            ))
        s.flush()
        hold_blobs(s)  # a concurrent `doctor --fix` may have taken a blob: put it back
        for sha in plan["blobs"]:
            if not store.blobs.exists(sha):
                store.blobs.put(zf.read(f"blobs/{sha}"))
    return store.get_conversation(row_conv.id)
