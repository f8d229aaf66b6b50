"""The mtedit chat app: a Streamlit page over agent.ChatSession.

    streamlit run chat_app.py        # or `make run`

The page only renders what the session reads back (messages, lineage, the running
job) and forwards what the user does. Job state lives in the agent's executor and
the store, never in st.session_state, so a reload finds a running edit and its
result. session_state holds only UI things: the ChatSession object of this
browser tab, the selected lineage node and transient notices.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import time
from pathlib import Path

import streamlit as st
import yaml
from PIL import Image

try:
    from agent import ChatSession, JobView, MessageView, NodeView, welcome
    from agent.damage import DamagedImage, placeholder_png
    from agent.executor import explain_error, load_backend
    from agent.labels import node_labels
    from agent.params import PRESETS
    from agent.timing import say_seconds
    from agent.uploads import MAX_UPLOAD_BYTES, check_upload
    from mtedit.settings import BUNDLED_MODEL, Settings, SettingsError
except ImportError as exc:  # a broken install: say how to repair it, not a stack trace
    st.error(f"The app cannot start: {exc}. Reinstall with `make install` (or "
             "`.venv/bin/pip install -e '.[dev]'`) and reload.")
    st.stop()

log = logging.getLogger("mtedit.app")

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
# The chat box refuses larger files and the agent's check_upload the rest before
# anything is sent (the agent checks the same again when it reads them).
MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // 2**20
POLL_S = 0.5  # how often the progress panel asks the executor
THUMB = 160  # long side of lineage thumbnails, pixels
CELL = 92  # width of a lineage cell on the page, pixels (three to a row)
DEVICES = ["auto", "cpu", "cuda", "mps"]
PLANNERS = ["offline", "openai", "anthropic", "ollama"]

CSS = """
<style>
div[class*="st-key-node-"] { padding: 0.3rem; gap: 0.2rem; position: relative; }
div[class*="st-key-node-"] .mt-thumb { width: 100%; border-radius: 4px; display: block; }
div[class*="st-key-node-"] .mt-missing { aspect-ratio: 1; background: #eee; font-size: 0.7rem; }
div[class*="st-key-node-"]:hover { outline: 2px solid #999; outline-offset: 1px; border-radius: 8px; }
div.st-key-node-head, div.st-key-node-head:hover {
  outline: 3px solid #ff4b4b; outline-offset: 1px; border-radius: 8px;
}
/* The whole cell (thumbnail and label) is the node's button: the button lies over it. */
div[class*="st-key-pick-"] { position: absolute; inset: 0; z-index: 2; margin: 0; }
div[class*="st-key-pick-"] :is(.stButton, .stButton > div, .stTooltipIcon,
    .stTooltipHoverTarget, button) { width: 100% !important; height: 100% !important; }
div[class*="st-key-pick-"] button { background: transparent !important; border: none !important; }
div[class*="st-key-pick-"] button * { visibility: hidden; }
div[class*="st-key-node-"] p { font-size: 0.75rem; line-height: 1.15; margin: 0; }
div[class*="st-key-node-"] .stHtml { margin-bottom: 0; }
div[class*="st-key-node-"] .mt-what {
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
  color: #666;
}
/* The lineage column stays in view while the chat scrolls. */
div[data-testid="stColumn"]:has(div.st-key-lineage) {
  position: sticky; top: 3.5rem; align-self: flex-start;
  max-height: calc(100vh - 9rem); overflow-y: auto;
}
div.st-key-lineage { padding: 5px; }
</style>
"""


# -- session and settings -------------------------------------------------------------


def app_settings(**overrides) -> Settings:
    """Settings.from_env plus this tab's sidebar choices (which win)."""
    return Settings.from_env(**overrides)


def user_settings_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "settings.yaml"


def save_user_settings(settings: Settings, values: dict) -> Path:
    """Merge `values` into the per-user settings.yaml that Settings.from_env reads."""
    path = user_settings_file(settings)
    current = {}
    if path.is_file():
        current = yaml.safe_load(path.read_text()) or {}
    current.update({k: v for k, v in values.items() if v not in (None, "")})
    for key in [k for k, v in values.items() if v in (None, "")]:
        current.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(current, sort_keys=True))
    return path


@st.cache_resource(show_spinner="Loading the model (once per process)…")
def shared_backend(model: str, device: str, dtype: str, offload: str, max_side: int):
    """The editing model, loaded once per process and shared by every tab and rerun."""
    settings = app_settings(model=model, device=device, dtype=dtype, offload=offload,
                            max_side=max_side)
    return load_backend(settings)


def backend_for(settings: Settings):
    """(backend, None), or (None, a message saying what to do) when it cannot be loaded."""
    try:
        backend = shared_backend(str(settings.model), settings.device, settings.dtype,
                                 settings.offload, settings.max_side)
    except Exception as exc:  # noqa: BLE001 - shown as a message; edits will say it again
        hint = ""
        if (Path(str(settings.model)) == BUNDLED_MODEL
                and not (BUNDLED_MODEL / "model_index.json").is_file()):
            hint = (" The bundled small model is not built yet: run `.venv/bin/mtedit "
                    "train-toy`, or point `MTEDIT_MODEL` at a FLUX.1 folder.")
        text = explain_error(exc)
        return None, f"{text[:1].upper()}{text[1:]}.{hint}"
    return backend, None


def session() -> ChatSession:
    """This tab's ChatSession (opened once per browser session over the shared model)."""
    chat = st.session_state.get("chat")
    if chat is None:
        settings = app_settings(**st.session_state.get("app_overrides", {}))
        backend, problem = backend_for(settings)
        chat = ChatSession.open(settings, backend=backend)
        st.session_state["chat"] = chat
        st.session_state["model_problem"] = problem
    return chat


def follow_url(chat: ChatSession) -> None:
    """Keep the current conversation in the URL (?c=...), so a reload returns to it."""
    wanted = st.query_params.get("c")
    if wanted and wanted != chat.conversation_id:
        try:
            chat.switch(wanted)
        except KeyError:
            del st.query_params["c"]
            notice("That conversation no longer exists.", kind="error")
    if chat.conversation_id is None:
        convs = chat.conversations()
        if convs:
            chat.switch(convs[0].id)
    if chat.conversation_id and st.query_params.get("c") != chat.conversation_id:
        st.query_params["c"] = chat.conversation_id


# -- transient notices (UI only: refused uploads, failed calls) -------------------------


def notice(text: str, kind: str = "error", user: str | None = None) -> None:
    st.session_state.setdefault("notices", []).append({"text": text, "kind": kind, "user": user})


def clear_notices() -> None:
    st.session_state["notices"] = []


# -- uploads ----------------------------------------------------------------------------


def handle_input(chat: ChatSession, value) -> None:
    """Validate the uploads, then hand the message to the agent (edits run in the background)."""
    text = (getattr(value, "text", None) or "").strip()
    files = list(getattr(value, "files", None) or [])
    shown = text or ", ".join(f.name for f in files)
    problems = [f"{p}." for f in files if (p := check_upload(f.name, f.getvalue()))]
    if problems:
        notice(
            "Nothing was sent. " + " ".join(problems) + " Upload PNG, JPEG or WebP photos.",
            user=shown,
        )
        return
    if not text and not files:
        return
    clear_notices()
    try:
        replies = chat.send(text, [(f.name, f.getvalue()) for f in files], wait=False)
    except Exception as exc:  # noqa: BLE001 - the agent answers failures as replies; last resort
        notice(f"That message could not be handled: {exc}", user=shown)
        return
    # Replies the agent did not store (e.g. "an edit is still running") are shown once.
    for reply in replies:
        if reply.message_id is None and reply.kind != "queued":
            notice(reply.text, kind="error" if reply.kind == "error" else "info", user=shown)
            shown = None
    if chat.conversation_id:
        st.query_params["c"] = chat.conversation_id


def move_head(chat: ChatSession, node_id: str) -> bool:
    """Make node_id the head; False (and a notice) when the agent refuses, e.g. mid-edit."""
    reply = chat.set_head(node_id)
    if reply.kind == "error":
        notice(reply.text)
        return False
    return True


# -- images -----------------------------------------------------------------------------


def thumb(chat: ChatSession, node_id: str, size: int = THUMB) -> bytes | None:
    """A PNG thumbnail; for a damaged image a placeholder saying what doctor would say
    (not cached: it shows the image again once the blob is restored); None if unknown."""
    try:
        return _thumbnail(chat, str(chat.settings.db_url), node_id, size)
    except DamagedImage as exc:
        return placeholder_png(size, exc.problem)
    except (KeyError, OSError, ValueError):
        return None


def image_or_placeholder(chat: ChatSession, node_id: str) -> bytes:
    try:
        return chat.image_bytes(node_id)
    except DamagedImage as exc:
        return placeholder_png(512, exc.problem)


@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(_chat: ChatSession, db_url: str, node_id: str, size: int) -> bytes:
    """Node images never change, so their thumbnails are made once per process."""
    return _chat.thumbnail(node_id, size)


def cell_image(chat: ChatSession, node_id: str) -> str | None:
    """A small JPEG thumbnail as a data URI, for a lineage cell (one element per cell, no
    media request per image: a tree of hundreds of images stays quick to draw)."""
    try:
        return _cell_image(chat, str(chat.settings.db_url), node_id)
    except (KeyError, OSError, ValueError):
        return None


@st.cache_data(max_entries=2000, show_spinner=False)
def _cell_image(_chat: ChatSession, db_url: str, node_id: str) -> str:
    img = Image.open(io.BytesIO(_chat.thumbnail(node_id, 2 * CELL))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def tag(node: NodeView, labels: dict[str, str]) -> str:
    """The node's label, unique in the conversation: "#2", "#2b" ..."""
    return "#" + labels.get(node.id, str(node.depth))


def what(node: NodeView) -> str:
    if node.kind == "upload":
        return "upload"
    if node.kind == "generate":
        return "generated"
    return node.instruction or node.caption


def node_label(node: NodeView, labels: dict[str, str]) -> str:
    return f"{tag(node, labels)} {what(node)}"


# -- the chat ---------------------------------------------------------------------------


def render_welcome(chat: ChatSession) -> None:
    """What the model can do, in one sentence, and one-click starters."""
    hello = welcome.welcome(chat.settings)
    with st.chat_message("assistant"):
        st.markdown(hello.text)
        render_starters(chat, hello.starters, "starter")
        if hello.bundled:
            st.caption("Or upload your own picture with the **+** below and say what it shows.")


def render_starters(chat: ChatSession, starters, key: str) -> None:
    row = st.container(horizontal=True, wrap=True, gap="small", key=f"{key}s")
    for i, starter in enumerate(starters):
        scene = starter.kind == "scene" and not starter.text
        if row.button(starter.label, key=f"{key}-{i}", type="primary" if scene else "secondary",
                      icon=":material/category:" if scene else None):
            clear_notices()
            st.session_state.pop("selected", None)
            try:
                welcome.start(chat, starter)
            except Exception as exc:  # noqa: BLE001 - say it, keep the page
                notice(f"That did not start: {exc}")
            if chat.conversation_id:
                st.query_params["c"] = chat.conversation_id
            st.rerun()


def markdown_lines(text: str) -> str:
    """The agent writes one thought per line: keep its line breaks."""
    return "  \n".join(text.splitlines())


def render_message(chat: ChatSession, msg: MessageView, nodes: dict[str, NodeView],
                   labels: dict[str, str]) -> None:
    error = msg.kind == "error"
    with st.chat_message(msg.role, avatar=":material/error:" if error else None):
        if error:
            st.error(markdown_lines(msg.text))
        elif msg.text:
            st.markdown(markdown_lines(msg.text))
        shown = [nodes[i] for i in msg.node_ids if i in nodes]
        edits = [n for n in shown if n.parent_id is not None]
        roots = [n for n in shown if n.parent_id is None]
        if msg.kind in ("rollback", "ask", "upload"):
            # The node is already on screen above (or in the lineage): a small reminder.
            if shown and msg.kind != "upload" and (b := thumb(chat, shown[0].id, 256)):
                st.image(b, width=128)
            return
        for node in edits:
            render_edit(chat, node, nodes, labels)
        if roots:
            render_roots(chat, roots, msg.id, pick=msg.role == "user", said=msg.text)


def render_edit(chat: ChatSession, node: NodeView, nodes: dict[str, NodeView],
                labels: dict[str, str]) -> None:
    """One edit turn: its instruction, then before | after."""
    st.markdown(f"**{tag(node, labels)} · {node.instruction or node.caption}**")
    before, after = st.columns(2)
    parent = nodes.get(node.parent_id or "")
    if parent is not None and (b := thumb(chat, parent.id, 384)):
        before.image(b, caption=f"before ({tag(parent, labels)})", width="stretch")
    if a := thumb(chat, node.id, 384):
        after.image(a, caption=f"after ({tag(node, labels)})", width="stretch")


def render_roots(
    chat: ChatSession, roots: list[NodeView], key: str, pick: bool, said: str = ""
) -> None:
    """Uploaded or generated images; with several uploads, a button picks the base.
    A caption that only repeats the message (`said`) is left out."""
    head = chat.head()
    cols = st.columns(min(len(roots), 4) if len(roots) > 1 else [1, 1])
    for i, node in enumerate(roots):
        col = cols[i % len(cols)]
        if b := thumb(chat, node.id, 384):
            caption = node.caption if node.caption and node.caption not in said else None
            col.image(b, caption=caption, width="stretch")
        if pick and len(roots) > 1:
            if node.id == head:
                col.caption("the base: edits start here")
            elif col.button("Use as base", key=f"base-{key}-{node.id}"):
                move_head(chat, node.id)
                st.rerun()


def render_notices() -> None:
    for n in st.session_state.get("notices", []):
        if n.get("user"):
            with st.chat_message("user"):
                st.markdown(n["user"])
        error = n["kind"] == "error"
        with st.chat_message("assistant", avatar=":material/error:" if error else None):
            (st.error if error else st.info)(n["text"])


def render_chat(chat: ChatSession) -> list[NodeView]:
    """The chat; returns the conversation's nodes (read once per run, for the lineage too)."""
    # The job first, then the messages: a job that ends in between has its result
    # message stored already, and one still active gets the polling panel below.
    job = chat.active_job() if chat.conversation_id else None
    messages = chat.messages() if chat.conversation_id else []
    lineage = chat.lineage() if chat.conversation_id else []
    nodes = {n.id: n for n in lineage}
    labels = node_labels(lineage)
    if not messages:
        render_welcome(chat)
    for msg in messages:
        render_message(chat, msg, nodes, labels)
    if job is None and messages and messages[-1].role == "user" and not st.session_state.get(
        "notices"
    ):
        # Every handled message gets a stored reply; none means the server stopped mid-way.
        with st.chat_message("assistant", avatar=":material/error:"):
            st.warning("This message got no answer: the server stopped while handling it. "
                       "Send it again.")
    render_notices()
    if job is not None:
        plan = next((m.plan for m in reversed(messages) if m.role == "user"), None)
        steps = tuple(s.instruction for s in plan.steps) if plan else ()
        with st.chat_message("assistant", avatar=":material/hourglass_top:"):
            render_plan(job, steps)
            job_panel(job.id, steps)
    elif messages and (tries := welcome.suggestions(chat)):
        with st.chat_message("assistant"):
            st.markdown("Try an edit that this model knows:")
            render_starters(chat, tries, "suggest")
    return lineage


def render_plan(job: JobView, steps: tuple[str, ...]) -> None:
    """The plan of the running job and, before the wait, roughly how long it takes."""
    if len(steps) > 1:
        st.markdown(markdown_lines("\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))))
    if job.estimate_s is not None:
        st.caption(f"About {say_seconds(job.estimate_s)} in all ({job.total} model calls, "
                   "timed on this machine).")
    elif job.total:
        st.caption(f"First edit at this size: measuring ({job.total} model calls).")


def progress_text(job: JobView, steps: tuple[str, ...] = ()) -> str:
    if job.status == "queued":
        wait = f" (about {say_seconds(job.eta_s)} once it starts)" if job.eta_s else ""
        return f"Waiting for the model…{wait}"
    if job.stage == "planning":  # an LLM planner at work; the plan shows when it is ready
        return f"Planning… {job.elapsed_s:.0f} s so far"
    parts = []
    if job.steps:
        k = min(max(job.step, 1), job.steps)
        what = f": {steps[k - 1]}" if len(steps) == job.steps else ""
        parts.append(f"edit {k} of {job.steps}{what}")
    if job.total:
        parts.append(f"step {job.done}/{job.total}")
    if job.stage:
        parts.append(job.stage)
    if job.eta_s is not None:
        parts.append(f"about {say_seconds(job.eta_s)} left")
    else:
        parts.append(f"{job.elapsed_s:.0f} s so far")
    return " · ".join(parts)


@st.fragment(run_every=POLL_S)
def job_panel(job_id: str, steps: tuple[str, ...] = ()) -> None:
    """Progress and cancel for the running edit; reruns the page once it has ended.

    The job counts as ended when the session no longer reports it active: by then its
    result message and nodes are stored (its status may read "done" a moment earlier).
    """
    chat = session()
    try:
        active = chat.active_job()
        job = chat.job(job_id) if active is not None and active.id == job_id else None
    except (KeyError, LookupError):  # e.g. its conversation was deleted in another tab
        job = None
    if job is None:
        st.rerun(scope="app")
    if job.finished:
        st.progress(1.0, text="Saving the result…")
        return
    fraction = job.done / job.total if job.total else 0.0
    st.progress(min(max(fraction, 0.0), 1.0), text=progress_text(job, steps))
    if st.button("Cancel", key=f"cancel-{job_id}", icon=":material/stop:"):
        chat.cancel(job_id)
        st.caption("Cancelling after the current model call…")


# -- the lineage ------------------------------------------------------------------------


def branches(nodes: list[NodeView]) -> list[list[NodeView]]:
    """Root-to-leaf paths, oldest branch first (each tree's first-born line leads)."""
    children: dict[str | None, list[NodeView]] = {}
    for n in nodes:
        children.setdefault(n.parent_id, []).append(n)
    paths: list[list[NodeView]] = []
    # depth first with an explicit stack (a chain thousands of edits deep is no problem);
    # at a leaf, its path is read back through the parents
    up: dict[str, NodeView | None] = {}
    stack = [(root, None) for root in sorted(children.get(None, []), key=lambda n: n.created_at,
                                             reverse=True)]
    while stack:
        node, parent = stack.pop()
        if node.id in up:
            continue
        up[node.id] = parent
        kids = sorted(children.get(node.id, []), key=lambda k: k.created_at, reverse=True)
        if not kids:
            path, at = [], node
            while at is not None:
                path.append(at)
                at = up[at.id]
            paths.append(path[::-1])
        stack += [(kid, node) for kid in kids]
    return paths


def render_lineage(chat: ChatSession, nodes: list[NodeView]) -> None:
    """The image tree: one row per branch, each after the node it forks from. A cell is a
    thumbnail with its label (unique in the conversation) and instruction; clicking it
    opens the node's actions."""
    st.subheader("Lineage", anchor=False)
    if not nodes:
        st.caption("Images appear here as a tree of turns. Click one to go back to it.")
        return
    t0 = time.perf_counter()
    head = chat.head()
    labels = node_labels(nodes)
    shown: set[str] = set()
    paths = branches(nodes)
    roots = list(dict.fromkeys(p[0].id for p in paths))
    per_root: dict[str, int] = {}
    for i, path in enumerate(paths):
        new = [n for n in path if n.id not in shown]
        fork = path[len(path) - len(new) - 1] if len(new) < len(path) else None
        on_head = any(n.id == head for n in path)
        per_root[path[0].id] = per_root.get(path[0].id, 0) + 1
        if len(roots) > 1:  # several uploads: one tree each
            title = f"Image {roots.index(path[0].id) + 1} · branch {per_root[path[0].id]}"
        else:
            title = f"Branch {i + 1}"
        title += f" · from {tag(fork, labels)}" if fork else ""
        st.markdown(f"**{title}**" + (" · *head*" if on_head else ""))
        row = st.container(horizontal=True, wrap=True, gap="small", key=f"lineage-row-{i}")
        with row:
            for node in new:
                render_node(chat, node, node.id == head, labels)
        shown.update(n.id for n in new)
    render_node_panel(chat, {n.id: n for n in nodes}, head, labels)
    # For the browser test and anyone curious: how long this column took on the server.
    st.html(f'<span class="mt-lineage-ms" data-nodes="{len(nodes)}" '
            f'data-ms="{(time.perf_counter() - t0) * 1000:.0f}"></span>')


def render_node(chat: ChatSession, node: NodeView, is_head: bool, labels: dict[str, str]) -> None:
    """One cell: thumbnail, label and instruction in one HTML element, and the node's
    button laid over the whole cell (CSS), so the thumbnail is what one clicks."""
    key = "node-head" if is_head else f"node-{node.id}"
    label = labels.get(node.id, str(node.depth))
    full = node.instruction or node.caption or node.kind
    under = html.escape(node.instruction) if node.kind == "edit" else what(node)
    src = cell_image(chat, node.id)
    picture = (f'<img class="mt-thumb" src="{src}" alt="{html.escape(label)}">' if src
               else '<div class="mt-thumb mt-missing">image missing</div>')
    with st.container(border=True, width=CELL, key=key):
        st.html(f'<div class="mt-cell" title="{html.escape(label)}: {html.escape(full)}">'
                f'{picture}<p class="mt-label"><b>{html.escape(label)}</b>'
                f'{" ●" if is_head else ""}</p><p class="mt-what">{under}</p></div>')
        if st.button(label + (" ●" if is_head else ""), key=f"pick-{node.id}", width="stretch"):
            st.session_state["selected"] = node.id


def render_node_panel(chat: ChatSession, nodes: dict[str, NodeView], head: str | None,
                      labels: dict[str, str]) -> None:
    """Actions on the clicked node: make it the head, branch, download, compare."""
    node = nodes.get(st.session_state.get("selected") or "")
    if node is None:
        st.caption("Click a thumbnail to roll back, branch, download or compare.")
        return
    with st.container(border=True, key="node-panel"):
        st.markdown(f"**{node_label(node, labels)}**" + (" — the head" if node.id == head else ""))
        if b := thumb(chat, node.id, 512):
            st.image(b, caption=node.caption or None, width="stretch")
        if problem := chat.image_problem(node.id):
            st.warning(f"This image cannot be shown: {problem}.", icon=":material/broken_image:")
        actions = st.container(horizontal=True, wrap=True, gap="small")
        if actions.button("Make head", key="make-head", disabled=node.id == head,
                          icon=":material/undo:",
                          help="Roll back: the next edit starts from this image"):
            move_head(chat, node.id)
            st.rerun()
        if actions.button("Branch", key="fork-here", icon=":material/call_split:",
                          help="Edit this image again; later edits stay as their own branch"):
            if node.id == head or move_head(chat, node.id):
                has_children = any(n.parent_id == node.id for n in nodes.values())
                made = "a new branch" if has_children else "the next turn"
                notice(f"Type the edit below: it makes {made} from {tag(node, labels)}.",
                       kind="info")
            st.rerun()
        actions.download_button(
            "Download", data=lambda: image_or_placeholder(chat, node.id),
            icon=":material/download:",
            file_name=f"mtedit-{labels.get(node.id, node.depth)}-{node.id[:8]}.png",
            mime="image/png",
            key="download-node", on_click="ignore",
        )
        others = [n for n in nodes.values() if n.id != node.id]
        if others:
            other = st.selectbox(
                "Compare with", [None] + [n.id for n in others], key=f"compare-{node.id}",
                format_func=lambda i: "—" if i is None else node_label(nodes[i], labels),
            )
            if other:
                left, right = st.columns(2)
                if b := thumb(chat, node.id, 384):
                    left.image(b, caption=node_label(node, labels), width="stretch")
                if b := thumb(chat, other, 384):
                    right.image(b, caption=node_label(nodes[other], labels), width="stretch")
        if node.params:
            with st.expander("Parameters"):
                st.json(node.params, expanded=False)


# -- the sidebar ------------------------------------------------------------------------


def render_conversations(chat: ChatSession) -> None:
    st.header("Conversations", anchor=False)
    if st.button("New conversation", icon=":material/add:", width="stretch",
                 key="new-conversation"):
        carried = {k: v for k, v in chat.edit_settings.as_dict().items() if v is not None}
        st.query_params["c"] = chat.new_conversation()
        defaults = chat.default_edit_settings.as_dict()
        if carried != {k: v for k, v in defaults.items() if v is not None}:
            chat.update_settings(**carried)  # the edit settings carry over
        clear_notices()
        st.session_state.pop("selected", None)
        st.rerun()
    convs = chat.conversations()
    for conv in convs[:50]:
        current = conv.id == chat.conversation_id
        if st.button(
            conv.title or "untitled", key=f"conv-{conv.id}", width="stretch",
            type="primary" if current else "tertiary",
        ) and not current:
            chat.switch(conv.id)
            st.query_params["c"] = conv.id
            clear_notices()
            st.session_state.pop("selected", None)
            st.rerun()
    if chat.conversation_id:
        render_conversation_actions(chat, {c.id: c for c in convs})
    render_import(chat)


def render_conversation_actions(chat: ChatSession, convs: dict) -> None:
    conv = convs.get(chat.conversation_id)
    title = conv.title if conv else ""
    with st.expander("This conversation"):
        new_title = st.text_input("Title", value=title, key=f"title-{chat.conversation_id}")
        if st.button("Rename", key="rename") and new_title.strip() and new_title != title:
            chat.rename(new_title.strip())
            st.rerun()
        st.download_button(
            "Export as zip", data=lambda: chat.export_zip(), key="export",
            file_name=f"mtedit-{re.sub(r'[^A-Za-z0-9._-]+', '_', title or 'chat')[:40]}.zip",
            mime="application/zip", on_click="ignore", icon=":material/download:",
        )
        if st.session_state.get("confirm_delete") != chat.conversation_id:
            if st.button("Delete…", key="delete", icon=":material/delete:"):
                st.session_state["confirm_delete"] = chat.conversation_id
                st.rerun()
        else:
            st.warning(f"Delete “{title}” with all its images? This cannot be undone.")
            yes, no = st.columns(2)
            if yes.button("Delete", key="delete-yes", type="primary"):
                chat.delete(chat.conversation_id)
                st.session_state.pop("confirm_delete", None)
                st.session_state.pop("selected", None)
                if "c" in st.query_params:
                    del st.query_params["c"]
                st.rerun()
            if no.button("Keep", key="delete-no"):
                st.session_state.pop("confirm_delete", None)
                st.rerun()


def render_import(chat: ChatSession) -> None:
    n = st.session_state.get("import_n", 0)
    upload = st.file_uploader("Import a conversation (.zip)", type=["zip"], key=f"import-{n}")
    if upload is not None and st.button("Import", key="import"):
        try:
            conv_id = chat.import_zip(upload.getvalue())
        except Exception as exc:  # noqa: BLE001 - a bad zip must not break the page
            st.error(f"Could not import {upload.name}: {exc}")
            return
        chat.switch(conv_id)
        st.query_params["c"] = conv_id
        st.session_state["import_n"] = n + 1
        st.rerun()


def render_settings(chat: ChatSession) -> None:
    """Model, edit and planner settings. Widget keys carry the conversation id, so that
    switching conversations shows that conversation's edit settings."""
    s, e = chat.settings, chat.edit_settings
    k = chat.conversation_id or "none"
    with st.expander("Settings", icon=":material/tune:"):
        with st.form(f"settings-{k}", border=False):
            st.caption("Model")
            model = st.text_input("Model folder or hub id", value=str(s.model), key=f"set-model-{k}")
            device = st.selectbox("Device", _with(DEVICES, s.device),
                                  index=_index(DEVICES, s.device), key=f"set-device-{k}")
            st.caption("Editing (empty: the preset's value)")
            preset = st.selectbox("Preset", _with(PRESETS, e.preset),
                                  index=_index(PRESETS, e.preset), key=f"set-preset-{k}")
            steps = st.number_input("Steps", 1, 200, value=e.steps, step=1, key=f"set-steps-{k}")
            guidance = st.number_input("Guidance", 0.0, 30.0, value=e.guidance, step=0.5,
                                       key=f"set-guidance-{k}")
            eta = st.number_input("LQR eta", 0.0, 1.0, value=e.eta, step=0.05, key=f"set-eta-{k}")
            lam = st.number_input("Lambda (previous vs original)", 0.0, 1.0, value=e.lam,
                                  step=0.05, key=f"set-lambda-{k}")
            stop = st.number_input("Control stop (share of steps)", 0.0, 1.0, value=e.stop,
                                   step=0.05, key=f"set-stop-{k}")
            hl_options = [None, True, False]
            highlight = st.selectbox(
                "Attention highlighting", hl_options, index=hl_options.index(e.highlight),
                format_func=lambda v: {None: "preset", True: "on", False: "off"}[v],
                key=f"set-highlight-{k}",
            )
            inject = st.number_input("Feature injection steps", 0, 10, value=e.inject, step=1,
                                     key=f"set-inject-{k}")
            seed = st.number_input("Seed", 0, 2**31 - 1, value=int(e.seed), step=1,
                                   key=f"set-seed-{k}")
            st.caption("Planner")
            planner = st.selectbox("Provider", _with(PLANNERS, s.planner),
                                   index=_index(PLANNERS, s.planner), key=f"set-planner-{k}")
            planner_model = st.text_input("Planner model", value=s.planner_model or "",
                                          key=f"set-planner-model-{k}")
            base_url = st.text_input("Base URL", value=s.planner_base_url or "",
                                     placeholder="http://localhost:8000/v1",
                                     key=f"set-base-url-{k}")
            saved = st.form_submit_button("Save settings", type="primary", key="save-settings")
        if saved:
            app = {
                "model": model.strip(), "device": device, "planner": planner,
                "planner_model": planner_model.strip() or None,
                "planner_base_url": base_url.strip() or None,
            }
            edit = {
                "preset": preset, "steps": steps, "guidance": guidance, "eta": eta, "lam": lam,
                "stop": stop, "highlight": highlight, "inject": inject, "seed": seed,
            }
            save_settings(chat, app, edit)


def _with(options: list[str], value: str) -> list[str]:
    return options if value in options else [*options, value]


def _index(options: list[str], value: str) -> int:
    return _with(options, value).index(value)


def save_settings(chat: ChatSession, app: dict, edit: dict) -> None:
    """Apply the sidebar: edit settings on the conversation, app settings in settings.yaml."""
    try:
        app_settings(**{k: v for k, v in app.items() if v not in (None, "")})  # valid first
        if chat.conversation_id is None:
            st.query_params["c"] = chat.new_conversation()
        chat.update_settings(**edit, **{k: app[k] for k in app if k.startswith("planner")})
        path = save_user_settings(chat.settings, app)
    except (ValueError, OSError) as exc:
        st.error(f"Not saved: {exc}")
        return
    current = {k: getattr(chat.settings, k) for k in ("model", "device")}
    if any(str(current[k]) != str(app[k]) for k in current):
        overrides = {**st.session_state.get("app_overrides", {}), "model": app["model"],
                     "device": app["device"]}
        st.session_state["app_overrides"] = overrides
        conv = chat.conversation_id
        settings = app_settings(**overrides)
        backend, problem = backend_for(settings)
        st.session_state["chat"] = ChatSession.open(settings, conv, backend=backend)
        st.session_state["model_problem"] = problem
    st.toast(f"Settings saved ({path})")
    st.rerun()


# -- the page ---------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="mtedit", page_icon=":material/auto_fix_high:", layout="wide")
    st.html(CSS)
    chat = session()
    follow_url(chat)
    value = st.chat_input(
        "Describe an edit, or upload photos with +",
        accept_file="multiple", file_type=IMAGE_TYPES, max_upload_size=MAX_UPLOAD_MB,
        key="chat-input",
    )
    if value is not None:
        handle_input(chat, value)
    with st.sidebar:
        render_conversations(chat)
        render_settings(chat)
    problem = st.session_state.get("model_problem")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.title("mtedit", anchor=False)
        model = ("the bundled toy model" if welcome.is_bundled(chat.settings)
                 else f"`{chat.settings.model}`")
        st.caption(f"Model: {model} · device {chat.settings.device}")
        if problem:
            st.warning(problem, icon=":material/warning:")
        if note := getattr(chat, "planner_note", ""):  # e.g. an LLM planner that is not set up
            st.info(note, icon=":material/info:")
        nodes = render_chat(chat)
    with right, st.container(key="lineage"):
        render_lineage(chat, nodes)


def run() -> None:
    """main() with a readable message instead of a stack-trace page."""
    try:
        main()  # st.rerun / st.stop raise BaseException subclasses: they pass through
    except SettingsError as exc:  # a wrong setting: name it, do not call it a crash
        st.error(f"A setting needs fixing before the app can start. {exc}. Change it in "
                 "the environment or in settings.yaml, then reload the page.")
    except Exception as exc:  # the page must stay up
        log.exception("the page failed")
        st.error(
            f"Something went wrong ({type(exc).__name__}: {exc}). Your conversations are "
            "stored; reload the page. If it persists, check the settings in the sidebar "
            "(model folder, device); the server log has the details."
        )


run()
