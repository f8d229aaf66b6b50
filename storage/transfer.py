"""Export a conversation to a zip file and import it into any store, with new ids.

The zip holds `conversation.json` (the conversation, its image nodes, messages and plans)
and `blobs/<sha256>` for every image and latent. Jobs are not exported.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.blobs import sha256_hex
from storage.errors import StorageError
from storage.ids import new_id
from storage.models import ConversationRow, ImageNodeRow, MessageRow, PlanRow, utcnow

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


def import_conversation(store: Store, path: Path | str) -> Conversation:
    """Load a zip written by export_conversation into `store`; all ids are new."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise StorageError(f"{path}: not a conversation export ({exc})") from None
    with zf:
        try:
            doc = json.loads(zf.read(MANIFEST))
        except (KeyError, ValueError) as exc:
            raise StorageError(f"{path}: missing or unreadable {MANIFEST} ({exc})") from None
        if doc.get("format") != FORMAT or doc.get("version", 0) > VERSION:
            raise StorageError(f"{path}: not a {FORMAT} file of version <= {VERSION}")
        for name in zf.namelist():
            if not name.startswith("blobs/"):
                continue
            sha = name.removeprefix("blobs/")
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise StorageError(f"{path}: unexpected member {name}")
            data = zf.read(name)
            if sha256_hex(data) != sha:
                raise StorageError(f"{path}: blob {sha} is damaged in the archive")
            store.blobs.put(data)

    try:
        return _insert(store, doc, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"{path}: malformed {MANIFEST} ({type(exc).__name__}: {exc})") from None


def _insert(store: Store, doc: dict, path: Path) -> Conversation:
    conv = doc["conversation"]
    node_ids = {n["id"]: new_id() for n in doc["nodes"]}
    message_ids = {m["id"]: new_id() for m in doc["messages"]}
    for n in doc["nodes"]:
        for sha in (n["image_sha256"], n.get("latent_sha256")):
            if sha and not store.blobs.exists(sha):
                raise StorageError(f"{path}: node {n['id']} needs blob {sha}, not in the archive")
    row_conv = ConversationRow(
        id=new_id(), title=conv.get("title", ""), created_at=_time(conv.get("created_at")),
        updated_at=utcnow(), head_node_id=node_ids.get(conv.get("head_node_id")),
        settings=conv.get("settings") or {},
    )
    with store.transaction() as s:
        s.add(row_conv)
        s.flush()
        for n in sorted(doc["nodes"], key=lambda n: n["depth"]):  # parents first
            s.add(ImageNodeRow(
                id=node_ids[n["id"]], conversation_id=row_conv.id,
                parent_id=node_ids[n["parent_id"]] if n["parent_id"] else None,
                root_id=node_ids[n["root_id"]], depth=n["depth"], kind=n["kind"],
                caption=n["caption"], instruction=n["instruction"],
                target_prompt=n["target_prompt"], focus_words=n["focus_words"],
                preset=n["preset"], params=n["params"], seed=n["seed"], model_id=n["model_id"],
                image_sha256=n["image_sha256"], latent_sha256=n["latent_sha256"],
                width=n["width"], height=n["height"], status=n["status"], timings=n["timings"],
                created_at=_time(n["created_at"]),
            ))
            s.flush()
        for m in doc["messages"]:  # oldest first: parents first
            s.add(MessageRow(
                id=message_ids[m["id"]], conversation_id=row_conv.id,
                parent_message_id=message_ids[m["parent_id"]] if m["parent_id"] else None,
                role=m["role"], text=m["text"], kind=m.get("kind") or "text",
                meta={k: node_ids.get(v, v) if isinstance(v, str) else v  # node ids: new ones
                      for k, v in (m.get("meta") or {}).items()},
                node_ids=[node_ids.get(i, i) for i in m["node_ids"]],
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
    return store.get_conversation(row_conv.id)
