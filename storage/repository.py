"""The repository API the agent uses: conversations, image lineage, the message tree,
plans and jobs over SQLAlchemy, with images and latents in a content-addressed blob store.
The conversation calls are in storage/conversations.py, the message and plan calls in
storage/messages.py, the job calls in storage/jobs.py (all mixed into `Store`); ids and small helpers in storage/ids.py.

    store = Store.open(data_dir=Path("~/.local/share/mtedit"))   # or Store.from_settings(s)
    conv = store.create_conversation("cat")
    up = store.add_upload(conv.id, png_bytes, "a cat on a sofa")
    hat = store.add_edit(up.id, png2, latent2, caption="a cat with a hat on a sofa",
                         instruction="add a hat", target_prompt="a cat with a hat on a sofa")
    store.set_head(conv.id, up.id)          # rollback: nothing is deleted
    store.add_edit(up.id, ...)              # a sibling of `hat`: a new branch

Every method opens its own short session, so one Store may be shared by threads; it
returns frozen records (storage.records), never live ORM objects. A node row is
written only after its blobs are durable on disk, in one transaction with the head move.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Self

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mtedit.text import clean
from storage.blobs import BlobStore
from storage.conversations import ConversationQueries, _conversation
from storage.dbfile import FileWatch
from storage.engine import (
    WRITE,
    DatabaseUnavailable,
    make_engine,
    normalize_url,
    opening,
    setting_named,
    upgrade,
)
from storage.errors import InvalidImageError, StorageError
from storage.gc import hold_blobs
from storage.ids import get_row, json_copy, new_id, png_size, root_first
from storage.jobs import JobQueries
from storage.limits import check_png
from storage.maintenance import Maintenance
from storage.messages import MessageQueries
from storage.models import ConversationRow, ImageNodeRow, utcnow
from storage.paths import check_inside
from storage.records import NODE_KINDS, Conversation, Node
from storage.retry import committed_after_all, retry_disconnects, transaction_id
from storage.space import said_when_full

if TYPE_CHECKING:
    from mtedit.settings import Settings

def _words(words: str | Iterable[str]) -> list[str]:
    if isinstance(words, str):
        return re.findall(r"[\w'-]+", words.lower())
    return [w.lower().strip() for w in words if w and w.strip()]


def _node(row: ImageNodeRow) -> Node:
    """The row's values (Node's fields are the row's columns), JSON values copied."""
    values = {f.name: getattr(row, f.name) for f in fields(Node)}
    check = dict(row.check_result) if row.check_result is not None else None
    return Node(**{**values, "focus_words": tuple(row.focus_words or ()),
                   "params": dict(row.params or {}), "timings": dict(row.timings or {}),
                   "check_result": check})


@retry_disconnects  # a database restart is waited out (storage/retry.py)
class Store(ConversationQueries, MessageQueries, JobQueries, Maintenance):
    """Conversations, image lineage, message tree, plans and jobs; blobs on disk.

    Use `Store.open(...)` or `Store.from_settings(settings)`; close with `close()` or a
    `with` block. Thread-safe: one engine, one short session per call.
    """

    def __init__(self, url: str, data_dir: Path, *, migrate: bool = True):
        self.url = url
        self.data_dir = Path(data_dir)
        self.blobs = BlobStore(check_inside(self.data_dir, self.data_dir / "blobs"))
        self.engine = make_engine(url)
        self.store_id: str | None = None
        with opening(self):  # a full disk or an unreachable server: said in words
            if migrate:
                upgrade(self.engine)
            self.data_dir.mkdir(parents=True, exist_ok=True)  # only once the database opened
            self._read = sessionmaker(self.engine, expire_on_commit=False)
            self._write = sessionmaker(self.engine.execution_options(**WRITE),
                                       expire_on_commit=False)
            self._file = FileWatch(self)  # a deleted or replaced SQLite file is noticed
            if migrate:
                from storage.identity import check_blob_folder

                self.store_id = check_blob_folder(self)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls, url: str | Path | None = None, data_dir: Path | str | None = None, *,
        migrate: bool = True,
    ) -> Store:
        """Open (creating and migrating as needed) a store.

        url: any SQLAlchemy URL, or a path to a SQLite file; None means
        `sqlite:///<data_dir>/mtedit.db`. data_dir holds the blobs; None means the folder
        of a SQLite file given as url, else the settings' data folder (MTEDIT_DATA_DIR).
        With both None, MTEDIT_DATABASE_URL and MTEDIT_DATA_DIR decide (Settings.from_env()).
        """
        if url is None and data_dir is None:
            from mtedit.settings import Settings

            return cls.from_settings(Settings.from_env(), migrate=migrate)
        if url is not None:
            url = normalize_url(url)
        if data_dir is None:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
                data_dir = Path(parsed.database).expanduser().resolve().parent
            else:
                from mtedit.settings import Settings

                data_dir = Settings.from_env().data_dir
        data_dir = Path(data_dir).expanduser()
        if url is None:
            url = f"sqlite:///{data_dir.resolve() / 'mtedit.db'}"
        return cls(url, data_dir, migrate=migrate)

    @classmethod
    def from_settings(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """The store named by settings.database_url (or the SQLite file) and settings.data_dir."""
        try:
            store = cls.open(settings.database_url, settings.data_dir, migrate=migrate)
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(setting_named(exc, settings.database_url)) from None
        store.stale_s = float(getattr(settings, "job_stale_s", store.stale_s))
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r}, {str(self.data_dir)!r})"

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (no transaction is committed)."""
        self._file.check()
        with self._read() as s:
            yield s

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session in one transaction: committed when the block ends, rolled back
        if it raises (on SQLite, BEGIN IMMEDIATE: writers queue for the lock). DatabaseGone
        when the SQLite file was deleted or replaced; StorageFullError on a full disk. When
        the COMMIT itself fails, the server is asked whether it committed (storage/retry.py)."""
        self._file.check()
        with said_when_full("the database", self._where()), self._write() as s:
            tx = s.begin()
            try:
                xid = transaction_id(s)
                yield s
                s.flush()
            except BaseException:
                tx.rollback()
                raise
            try:
                tx.commit()
            except Exception as exc:
                if not committed_after_all(self, xid, exc):
                    raise

    def _where(self) -> str:
        return str(self._file.path or make_url(self.url).render_as_string(hide_password=True))

    # ------------------------------------------------------------ the head

    def set_head(self, conversation_id: str, node_id: str | None) -> Conversation:
        """Move the head (the image the next edit starts from). Rolling back is just this:
        the next add_edit from the head creates a sibling branch; nothing is deleted."""
        with self.transaction() as s:
            row = self._conv_row(s, conversation_id)
            if node_id is not None:
                node = self._node_row(s, node_id)
                if node.conversation_id != conversation_id:
                    raise StorageError(f"node {node_id} belongs to another conversation")
            row.head_node_id = node_id
            row.updated_at = utcnow()
        return _conversation(row)

    def head(self, conversation_id: str) -> Node | None:
        """The head node of the conversation, or None before the first image."""
        with self.reading() as s:
            head = self._conv_row(s, conversation_id).head_node_id
            return _node(self._node_row(s, head)) if head else None

    # -------------------------------------------------------------- image nodes

    def add_upload(
        self, conversation_id: str, png_bytes: bytes, caption: str = "",
        latent_bytes: bytes | None = None, *, model_id: str | None = None,
        set_head: bool = True,
    ) -> Node:
        """A new root image from the user (PNG bytes). latent_bytes (safetensors) may be
        added now or later with set_latent. Becomes the head unless set_head=False."""
        return self._add_node(
            conversation_id, None, "upload", png_bytes, latent_bytes, set_head,
            caption=caption, model_id=model_id,
        )

    def add_generated(
        self, conversation_id: str, png_bytes: bytes, latent_bytes: bytes | None,
        caption: str, instruction: str | None = None, target_prompt: str | None = None,
        preset: str | None = None, params: dict | None = None, seed: int | None = None,
        model_id: str | None = None, timings: dict | None = None, *, set_head: bool = True,
    ) -> Node:
        """A new root image generated from a prompt (target_prompt defaults to caption)."""
        return self._add_node(
            conversation_id, None, "generate", png_bytes, latent_bytes, set_head,
            caption=caption, instruction=instruction,
            target_prompt=caption if target_prompt is None else target_prompt,
            preset=preset, params=params, seed=seed, model_id=model_id, timings=timings,
        )

    def add_edit(
        self, parent_id: str, png_bytes: bytes, latent_bytes: bytes | None, caption: str,
        instruction: str | None = None, target_prompt: str | None = None,
        focus_words: Sequence[str] = (), preset: str | None = None, params: dict | None = None,
        seed: int | None = None, model_id: str | None = None, timings: dict | None = None,
        *, set_head: bool = True, kind: str = "edit", step_key: str | None = None,
        mask: bytes | None = None,
    ) -> Node:
        """An edit result: a child of `parent_id` in the same lineage (same root). The
        caption describes the new image (the next edit's source prompt). Becomes the head
        of the conversation unless set_head=False. kind "op": an exact operation, its
        parameters in params. step_key (e.g. "<job id>:<step>") makes the write
        idempotent: a step stored before returns its node, nothing is added. mask: the
        region the edit was limited to, a PNG of the image's size (a blob, read_mask)."""
        if kind not in ("edit", "op"):
            raise ValueError(f"add_edit stores edits and operations, not {kind!r} nodes")
        if step_key is not None and (done := self.node_by_step_key(step_key)) is not None:
            return done
        with self.reading() as s:
            conversation_id = self._node_row(s, parent_id).conversation_id
        return self._add_node(
            conversation_id, parent_id, kind, png_bytes, latent_bytes, set_head,
            caption=caption, instruction=instruction,
            target_prompt=caption if target_prompt is None else target_prompt,
            focus_words=focus_words, preset=preset, params=params, seed=seed,
            model_id=model_id, timings=timings, step_key=step_key, mask=mask,
        )

    def node_by_step_key(self, step_key: str) -> Node | None:
        """The node a job step stored (see add_edit), or None."""
        with self.reading() as s:
            row = s.scalar(select(ImageNodeRow).where(ImageNodeRow.step_key == step_key))
            return _node(row) if row is not None else None

    def _add_node(
        self, conversation_id: str, parent_id: str | None, kind: str, png: bytes,
        latent: bytes | None, set_head: bool, *, caption: str = "",
        instruction: str | None = None, target_prompt: str | None = None,
        focus_words: Sequence[str] = (), preset: str | None = None,
        params: dict | None = None, seed: int | None = None, model_id: str | None = None,
        timings: dict | None = None, step_key: str | None = None, mask: bytes | None = None,
    ) -> Node:
        assert kind in NODE_KINDS
        width, height = png_size(png)
        if mask is not None:
            mask = bytes(mask)
            if check_png(mask) or png_size(mask) != (width, height):
                raise InvalidImageError(f"a node's mask must be a PNG of its image's size "
                                        f"{width}x{height}")
        if latent is not None and not isinstance(latent, (bytes, bytearray, memoryview)):
            raise TypeError("latent must be safetensors bytes (editing_core.latent_to_bytes)")
        if isinstance(focus_words, str):
            focus_words = [focus_words]
        fields = {
            "caption": clean(caption or ""), "instruction": clean(instruction),
            "target_prompt": clean(target_prompt),
            "focus_words": json_copy([clean(w) for w in focus_words], "focus_words"),
            "preset": preset,
            "params": json_copy(params or {}, "params"),
            "seed": None if seed is None else int(seed), "model_id": model_id,
            "timings": json_copy(timings or {}, "timings"), "step_key": step_key,
            "mask_sha256": self.blobs.put(mask) if mask is not None else None,
        }
        with self.reading() as s:  # fail before writing blobs when the ids are wrong
            self._conv_row(s, conversation_id)
        image_sha = self.blobs.put(bytes(png))
        latent_sha = self.blobs.put(bytes(latent)) if latent is not None else None
        node_id = new_id()
        try:
            return self._write_node(conversation_id, parent_id, kind, node_id, image_sha,
                                    latent_sha, width, height, set_head, png, latent, fields,
                                    mask)
        except IntegrityError:
            if step_key is not None and (done := self.node_by_step_key(step_key)) is not None:
                return done  # the same step, stored meanwhile by another runner
            raise

    def _write_node(self, conversation_id, parent_id, kind, node_id, image_sha, latent_sha,
                    width, height, set_head, png, latent, fields, mask=None) -> Node:
        with self.transaction() as s:
            conv = self._conv_row(s, conversation_id)
            if parent_id is None:
                root_id, depth = node_id, 0
            else:
                parent = self._node_row(s, parent_id)
                root_id, depth = parent.root_id, parent.depth + 1
            row = ImageNodeRow(
                id=node_id, conversation_id=conversation_id, parent_id=parent_id,
                root_id=root_id, depth=depth, kind=kind, image_sha256=image_sha,
                latent_sha256=latent_sha, width=width, height=height, status="ready",
                created_at=utcnow(), **fields,
            )
            s.add(row)
            if set_head:
                conv.head_node_id = node_id
            conv.updated_at = row.created_at
            s.flush()
            # A concurrent `doctor --fix` may have taken a deduplicated blob for an orphan.
            hold_blobs(s)  # doctor deletes under this lock: the checks below stay true
            self._ensure_blob(image_sha, png)
            if latent_sha:
                self._ensure_blob(latent_sha, latent)
            if mask is not None:
                self._ensure_blob(fields["mask_sha256"], mask)
        return _node(row)

    def _ensure_blob(self, sha: str, data: bytes) -> None:
        if not self.blobs.exists(sha):
            self.blobs.put(bytes(data))

    def set_latent(self, node_id: str, latent_bytes: bytes) -> Node:
        """Attach (or replace) the latent of a node, e.g. an upload encoded after storing."""
        sha = self.blobs.put(bytes(latent_bytes))
        with self.transaction() as s:
            row = self._node_row(s, node_id)
            row.latent_sha256 = sha
            s.flush()
            hold_blobs(s)
            self._ensure_blob(sha, latent_bytes)
        return _node(row)

    def set_caption(self, node_id: str, caption: str) -> Node:
        """Give a node its caption when it arrives late (an upload stored without one)."""
        with self.transaction() as s:
            row = self._node_row(s, node_id)
            row.caption = clean(caption)
        return _node(row)

    def set_check(self, node_id: str, check: dict | None) -> Node:
        """Record what came back for a node (a JSON object: the check of its result)."""
        with self.transaction() as s:
            row = self._node_row(s, node_id)
            row.check_result = None if check is None else json_copy(check, "check")
        return _node(row)

    def get_node(self, node_id: str) -> Node:
        with self.reading() as s:
            return _node(self._node_row(s, node_id))

    def nodes(self, conversation_id: str) -> list[Node]:
        """All nodes of the conversation, oldest first."""
        with self.reading() as s:
            self._conv_row(s, conversation_id)
            return [_node(r) for r in self._node_rows(s, conversation_id)]

    def path(self, node_id: str) -> list[Node]:
        """The lineage from its root to `node_id`, root first."""
        with self.reading() as s:
            node = self._node_row(s, node_id)
            by_id = {r.id: r for r in self._node_rows(s, node.conversation_id)}
        return [_node(r) for r in root_first(by_id, node_id, "parent_id")]

    def children(self, node_id: str) -> list[Node]:
        """Direct edits of `node_id`, oldest first (more than one: the lineage branches)."""
        q = (
            select(ImageNodeRow)
            .where(ImageNodeRow.parent_id == node_id)
            .order_by(ImageNodeRow.created_at, ImageNodeRow.id)
        )
        with self.reading() as s:
            self._node_row(s, node_id)
            return [_node(r) for r in s.scalars(q)]

    def find_nodes(
        self, conversation_id: str, words: str | Iterable[str], within: str | None = None,
        *, match: str = "all", limit: int | None = None,
    ) -> list[Node]:
        """Nodes whose instruction, target prompt or caption contain the words, most recent
        first. words: a list of words, or a phrase split into its words (none is dropped:
        which words matter is the caller's business). within: a node id to search only its path from the root (most recent
        = deepest); None for the whole conversation. match: "all" words or "any" word.
        Words match whole words, plurals included ("hat" finds "hats", not "that")."""
        if match not in ("all", "any"):
            raise ValueError('match must be "all" or "any"')
        wanted = _words(words)
        if not wanted:
            return []
        patterns = [re.compile(rf"\b{re.escape(w)}(?:s|es)?\b", re.IGNORECASE) for w in wanted]
        if within is not None:
            candidates = list(reversed(self.path(within)))
            if candidates[0].conversation_id != conversation_id:
                raise StorageError(f"node {within} belongs to another conversation")
        else:
            candidates = sorted(
                self.nodes(conversation_id), key=lambda n: (n.created_at, n.id), reverse=True
            )
        test = all if match == "all" else any
        found = []
        for node in candidates:
            text = " ".join(t for t in (node.instruction, node.target_prompt, node.caption) if t)
            if test(p.search(text) for p in patterns):
                found.append(node)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def read_image(self, node: Node | str) -> bytes:
        """The node's PNG bytes, hash-verified (BlobCorruptError / BlobMissingError)."""
        if isinstance(node, str):
            node = self.get_node(node)
        return self.blobs.get(node.image_sha256)

    def read_latent(self, node: Node | str) -> bytes | None:
        """The node's latent (safetensors bytes), hash-verified; None if it has none."""
        if isinstance(node, str):
            node = self.get_node(node)
        return self.blobs.get(node.latent_sha256) if node.latent_sha256 else None

    def read_mask(self, node: Node | str) -> bytes | None:
        """The PNG mask the node's edit was limited to, hash-verified; None if it has none."""
        if isinstance(node, str):
            node = self.get_node(node)
        return self.blobs.get(node.mask_sha256) if node.mask_sha256 else None

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _conv_row(s: Session, conversation_id: str) -> ConversationRow:
        return get_row(s, ConversationRow, conversation_id, "conversation")

    @staticmethod
    def _node_row(s: Session, node_id: str) -> ImageNodeRow:
        return get_row(s, ImageNodeRow, node_id, "image node")

    @staticmethod
    def _node_rows(s: Session, conversation_id: str) -> list[ImageNodeRow]:
        q = (
            select(ImageNodeRow)
            .where(ImageNodeRow.conversation_id == conversation_id)
            .order_by(ImageNodeRow.created_at, ImageNodeRow.id)
        )
        return list(s.scalars(q))
