"""Conversations and their edit settings, over the store.

Create, list, delete, export and import conversations; read and change a conversation's
edit settings (stored in conversations.settings, over the model folder's own defaults).
One Store per database in the process (shared_store).
"""

from __future__ import annotations

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


UNTITLED = ("", "New conversation")  # a conversation not named yet (the second: older ones)


def new_conversation(store, title: str | None = None) -> str:
    """Start an empty conversation (untitled unless a title is given); its id."""
    return store.create_conversation(title or "").id


def title(text: str) -> str:
    """A conversation's title from a message."""
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def title_from(text: str, files=()) -> str:
    """A conversation's title from its first request, or its first upload's file name."""
    if text.strip():
        return title(text)
    for item in files:
        name = (Path(item).name if isinstance(item, (str, Path)) else
                str(item[0]) if isinstance(item, tuple) else str(getattr(item, "name", "")))
        if name.strip():
            return title(name)
    return ""


def is_empty(store, conversation_id: str) -> bool:
    """Nothing in it yet: no message, no image, no job."""
    return (store.latest_message(conversation_id) is None and not store.nodes(conversation_id)
            and not store.list_jobs(conversation_id, limit=1))


def untitled(store, conversation_id: str) -> bool:
    """Not named yet and empty: its first request or upload names it."""
    return (store.get_conversation(conversation_id).title in UNTITLED
            and is_empty(store, conversation_id))


def conversations(store) -> list[ConversationView]:
    """All conversations, most recently updated first."""
    return [conversation_view(c) for c in store.list_conversations()]


def check_exists(store, conversation_id: str) -> str:
    """The id, when there is a conversation with it (KeyError otherwise)."""
    from storage import NotFoundError

    try:
        store.get_conversation(conversation_id)
    except NotFoundError as exc:
        raise KeyError(conversation_id) from exc
    return conversation_id


def delete(store, executor, conversation_id: str) -> None:
    """Delete a conversation with its messages, nodes and jobs (its jobs are stopped
    first; blobs shared with others stay)."""
    executor.cancel_all(conversation_id)
    store.delete_conversation(conversation_id)


def export_zip(store, conversation_id: str) -> bytes:
    """The conversation as a zip (rows as JSON + image and latent blobs)."""
    from storage.transfer import export_conversation

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "conversation.zip"
        export_conversation(store, conversation_id, path)
        return path.read_bytes()


def import_zip(store, data: bytes) -> str:
    """Import a zip made by export_zip as a new conversation; returns its id."""
    from storage.transfer import import_conversation

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "conversation.zip"
        path.write_bytes(data)
        return import_conversation(store, path).id


# -- edit settings --------------------------------------------------------------------


def edit_settings(store, settings: Settings, conversation_id: str | None) -> EditSettings:
    """The conversation's edit overrides (preset, steps, guidance, eta, lam, stop,
    highlight, inject, seed, strength) over the model's defaults."""
    base = default_edit_settings(settings)
    if conversation_id is None:
        return base
    try:
        return base.updated(**store.get_conversation(conversation_id).settings)
    except (ValueError, TypeError):
        return base


def default_edit_settings(settings: Settings) -> EditSettings:
    """EditSettings' defaults, then the model folder's own measured ones (its
    mtedit.json: the bundled model recommends the preset and the region mode that won its
    benchmark), then the region setting (MTEDIT_REGION) when it is set."""
    from editing_core.model_defaults import FILE

    try:  # one stat instead of reading and checking the file on every call
        info = (Path(str(settings.model)).expanduser() / FILE).stat()
        stamp = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = None
    defaults = _model_defaults(settings.model, stamp)
    return defaults.updated(region=settings.region) if settings.region else defaults


def checked(current: EditSettings, **kw) -> EditSettings:
    """current with kw changed ("lambda" is accepted for lam); ValueError names a bad key
    or a value that does not fit the preset."""
    from editing_core import resolve_params

    new = current.updated(**kw)
    resolve_params(new.preset, core_overrides(new))  # ValueError names what does not fit
    return new


def save_edit_settings(store, conversation_id: str, new: EditSettings) -> EditSettings:
    """Store the conversation's edit settings (the ones that are set)."""
    store.set_settings(conversation_id, {k: v for k, v in new.as_dict().items()
                                         if v is not None})
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
