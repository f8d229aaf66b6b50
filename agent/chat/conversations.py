"""The conversations of a chat session and their edit settings.

Create, list, switch, rename, delete, export and import conversations; read and change
the current conversation's edit settings (stored in conversations.settings) and the
planner settings of the session.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import threading
from pathlib import Path

from agent.chat.views import ConversationView, conversation_view
from agent.jobs.recovery import reap
from agent.planning.params import EditSettings, core_overrides
from mtedit.settings import Settings

_STORES: dict[tuple[str, str], object] = {}
_STORES_LOCK = threading.Lock()


def shared_store(settings: Settings):
    """One Store per database in the process (opened, migrated and cleaned once: jobs left
    running by a process that died are marked failed)."""
    from storage import Store

    key = (settings.db_url, str(settings.data_dir))
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store.from_settings(settings)
            reap(store)
        return store


class Conversations:
    """ChatSession's conversation and settings calls (uses store, executor, _cid)."""

    @property
    def conversation_id(self) -> str | None:
        """The current conversation (None before the first one is started)."""
        return self._cid

    def new_conversation(self, title: str | None = None) -> str:
        """Start an empty conversation, make it current, return its id."""
        self._cid = self.store.create_conversation(title or "New conversation").id
        return self._cid

    def conversations(self) -> list[ConversationView]:
        """All conversations, most recently updated first."""
        return [conversation_view(c) for c in self.store.list_conversations()]

    def switch(self, conversation_id: str) -> None:
        """Make another conversation current (KeyError if there is none with that id)."""
        from storage import NotFoundError

        try:
            self.store.get_conversation(conversation_id)
        except NotFoundError as exc:
            raise KeyError(conversation_id) from exc
        self._cid = conversation_id

    def rename(self, title: str, conversation_id: str | None = None) -> None:
        """Rename the current (or the given) conversation."""
        self.store.rename_conversation(conversation_id or self._require(), title.strip() or "Untitled")

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages, nodes and jobs (blobs shared with
        others stay). If it was current, no conversation is current afterwards."""
        self.executor.cancel_all(conversation_id)
        self.store.delete_conversation(conversation_id)
        if self._cid == conversation_id:
            self._cid = None

    def export_zip(self, conversation_id: str | None = None) -> bytes:
        """The conversation as a zip (rows as JSON + image and latent blobs)."""
        from storage.transfer import export_conversation

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "conversation.zip"
            export_conversation(self.store, conversation_id or self._require(), path)
            return path.read_bytes()

    def import_zip(self, data: bytes) -> str:
        """Import a zip made by export_zip as a new conversation; returns its id."""
        from storage.transfer import import_conversation

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "conversation.zip"
            path.write_bytes(data)
            return import_conversation(self.store, path).id

    def _require(self) -> str:
        if self._cid is None:
            raise RuntimeError("no current conversation: call new_conversation() or switch()")
        return self._cid

    # -- settings ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The application settings (model, device, planner ...)."""
        return self._settings

    @property
    def edit_settings(self) -> EditSettings:
        """The current conversation's edit overrides (preset, steps, guidance, eta,
        lam, stop, highlight, inject, seed, strength)."""
        base = self.default_edit_settings
        if self._cid is None:
            return base
        try:
            return base.updated(**self.store.get_conversation(self._cid).settings)
        except (ValueError, TypeError):
            return base

    @property
    def default_edit_settings(self) -> EditSettings:
        """EditSettings' defaults, then the model folder's own measured ones (its
        mtedit.json: the bundled model recommends the preset that won its benchmark)."""
        from editing_core.model_defaults import FILE

        try:  # one stat instead of reading and checking the file on every call
            info = (Path(str(self._settings.model)).expanduser() / FILE).stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        return _model_defaults(self._settings.model, stamp)

    def update_settings(self, **kw) -> EditSettings:
        """Change edit overrides (EditSettings fields; "lambda" is accepted for lam) and
        planner settings (planner, planner_model, planner_base_url, planner_api_key,
        planner_timeout: the planner is rebuilt). ValueError names a bad key or value.
        Edit overrides belong to the current conversation (one is started if needed)."""
        planner_keys = {k: kw.pop(k) for k in list(kw) if k.startswith("planner")}
        if planner_keys:
            self._settings = dataclasses.replace(self._settings, **planner_keys)
            self.planner_note = ""
            self.planner = self._build_planner(self._settings)
        if not kw:
            return self.edit_settings
        new = self.edit_settings.updated(**kw)
        from editing_core import resolve_params

        resolve_params(new.preset, core_overrides(new))  # ValueError names what does not fit
        if self._cid is None:
            self.new_conversation()
        values = {k: v for k, v in new.as_dict().items() if v is not None}
        self.store.set_settings(self._cid, values)
        return new


@functools.lru_cache(maxsize=8)
def _model_defaults(model: str, _stamp: tuple[int, int] | None) -> EditSettings:
    """Read once per model folder and file version: edit_settings is asked for several
    times per message."""
    from editing_core import resolve_params
    from editing_core.model_defaults import model_edit_defaults

    try:
        defaults = EditSettings().updated(**model_edit_defaults(model))
        resolve_params(defaults.preset, core_overrides(defaults))  # a bad file is ignored
    except (ValueError, TypeError, KeyError):
        return EditSettings()
    return defaults
