"""The chat column: the conversation's messages (edits as before | after; a result that
missed with its try again / go back buttons; turns an undo left, greyed), the welcome
and its starters, notices, and the running job's plan, progress and cancel button.

A message the agent refuses (or an upload the page refuses) is never shown as sent: the
refusal is said and the text goes back into the chat box (st.chat_input takes a value
set in session_state before it is drawn)."""

from __future__ import annotations

import streamlit as st

from agent import (
    MAX_UPLOAD_BYTES,
    ChatSession,
    JobView,
    MessageView,
    NodeView,
    check_upload,
    explain_error,
    node_labels,
    say_seconds,
    welcome,
)
from app.marking import clear as clear_mark
from app.marking import marked
from app.nodes import region_caption, region_image, tag, thumb
from app.state import clear_notices, leave, move_head, notice, session

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
# The chat box refuses larger files and the agent's check_upload the rest before
# anything is sent (the agent checks the same again when it reads them).
MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // 2**20
POLL_S = 0.5  # how often the progress panel asks the executor
INPUT = "chat-input"  # the chat box's key
RESTORE = "restore_input"  # session_state: text to put back into the box on the next run


def restore_input() -> None:
    """Put refused text back into the chat box (call before the box is drawn)."""
    if (text := st.session_state.pop(RESTORE, None)) is not None:
        st.session_state[INPUT] = text


def refused(text: str, problem: str) -> None:
    """Say why nothing was sent and give the words back to the box."""
    back = " Your text is back in the box below." if text else ""
    notice(f"Nothing was sent: {problem}{back}")
    if text:
        st.session_state[RESTORE] = text


def handle_input(chat: ChatSession, value) -> None:
    """Validate the uploads, then hand the message to the agent (edits run in the
    background). A refusal is said, and the text goes back into the box."""
    text = (getattr(value, "text", None) or "").strip()
    files = list(getattr(value, "files", None) or [])
    if not text and not files:
        return
    clear_notices()
    problems = [f"{p}." for f in files if (p := check_upload(f.name, f.getvalue()))]
    if problems:
        refused(text, " ".join(problems) + " Upload PNG, JPEG or WebP photos.")
        st.rerun()
    # a box or strokes on the current image (app/marking.py); not for new photos
    region = None if files else marked(chat)
    try:
        replies = chat.send(text, [(f.name, f.getvalue()) for f in files], wait=False,
                            region=region)
    except Exception as exc:  # noqa: BLE001 - the agent answers failures as replies; last resort
        refused(text, f"that message could not be handled ({explain_error(exc)}).")
        st.rerun()
    # A reply the agent did not store was a refusal (too long, a number out of range, an
    # edit still running): nothing was sent, so the words go back to the box.
    for reply in replies:
        if reply.message_id is None and reply.kind == "error":
            refused(text, reply.text)
            text = ""
        elif reply.message_id is None and reply.kind != "queued":
            notice(reply.text, kind="info")
    if region is not None and any(r.message_id is not None or r.kind == "queued"
                                  for r in replies):
        clear_mark(close=True)  # it went with this message (stored, or its edit queued)
    if chat.conversation_id:
        st.query_params["c"] = chat.conversation_id
    if RESTORE in st.session_state:
        st.rerun()

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
            before = chat.conversation_id
            try:
                welcome.start(chat, starter)
            except Exception as exc:  # noqa: BLE001 - say it, keep the page
                notice(f"That did not start: {explain_error(exc)}.")
            leave(chat, before)
            if chat.conversation_id:
                st.query_params["c"] = chat.conversation_id
            st.rerun()

def markdown_lines(text: str) -> str:
    """The agent writes one thought per line: keep its line breaks."""
    return "  \n".join(text.splitlines())

def render_message(chat: ChatSession, msg: MessageView, nodes: dict[str, NodeView],
                   labels: dict[str, str], head: str | None) -> None:
    error = msg.kind == "error"
    checks = [nodes[i].check for i in msg.node_ids if i in nodes and nodes[i].check]
    missed = any(c.get("verdict") == "missed" for c in checks)
    with st.chat_message(msg.role, avatar=":material/error:" if error else None):
        if error:
            st.error(markdown_lines(msg.text))
        elif missed:
            st.warning(markdown_lines(msg.text), icon=":material/report:")
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
        if (shown and shown[-1].id == head and not msg.left_behind
                and any(c.get("verdict") != "hit" for c in checks)):
            ways_on(chat, msg, nodes, labels)

def ways_on(chat: ChatSession, msg: MessageView, nodes: dict[str, NodeView],
            labels: dict[str, str]) -> None:
    """Under a result that missed (or was not checked): try again, or go back."""
    base = nodes.get(nodes[msg.node_ids[0]].parent_id or "")
    row = st.container(horizontal=True, gap="small", key=f"ways-{msg.id}")
    if row.button("Try again", key=f"retry-{msg.id}", icon=":material/refresh:",
                  help="The same edit from the same image, with another seed"):
        clear_notices()
        for reply in chat.try_again(msg.id):
            if reply.kind == "error":
                notice(reply.text)
        st.rerun()
    if base is not None and row.button(f"Go back to {tag(base, labels)}", key=f"back-{msg.id}",
                                       icon=":material/undo:",
                                       help="Make the image before it the head again"):
        clear_notices()
        move_head(chat, base.id)
        st.rerun()

def render_left_behind(msgs: list[MessageView], nodes: dict[str, NodeView],
                       labels: dict[str, str], head: str | None, chat: ChatSession) -> None:
    """Turns an undo left after the head: greyed, with a note saying how to get them back."""
    made = [nodes[i] for m in msgs for i in m.node_ids if i in nodes]
    names = ", ".join(tag(n, labels) for n in made) or "these turns"
    now = tag(nodes[head], labels) if head in nodes else "the head"
    with st.container(key=f"left-behind-{msgs[0].id}"):
        st.caption(f"Undone: {names} left behind (the head is {now}). They stay in the "
                   "lineage; click one there, or say \"redo\", to go back to them.")
        for msg in msgs:
            render_message(chat, msg, nodes, labels, head)

def render_edit(chat: ChatSession, node: NodeView, nodes: dict[str, NodeView],
                labels: dict[str, str]) -> None:
    """One edit turn: its instruction, then before | after."""
    st.markdown(f"**{tag(node, labels)} · {node.instruction or node.caption}**")
    before, after = st.columns(2)
    parent = nodes.get(node.parent_id or "")
    # an edit limited to a region shows it, outlined on both images
    def over(of: str) -> bytes | None:
        return region_image(chat, node.id, 384, of=of) if node.masked else None

    if parent is not None and (b := over(parent.id) or thumb(chat, parent.id, 384)):
        before.image(b, caption=f"before ({tag(parent, labels)})", width="stretch")
    if a := over(node.id) or thumb(chat, node.id, 384):
        after.image(a, caption=f"after ({tag(node, labels)})", width="stretch")
    if node.masked:
        st.caption(region_caption(node), help="The outline marks where this edit could "
                   "change the image; outside it every pixel is the image before it.")

def render_roots(
    chat: ChatSession, roots: list[NodeView], key: str, pick: bool, said: str = ""
) -> None:
    """Uploaded or generated images; with several uploads, a button picks the base.
    A caption that only repeats the message (`said`) is left out."""
    head = chat.head_id()
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
    """What the page says once (refusals, failed calls): never shown as a sent message."""
    for n in st.session_state.get("notices", []):
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
    head = next((n.id for n in lineage if n.is_head), None)
    if not messages:
        render_welcome(chat)
    behind: list[MessageView] = []
    for msg in [*messages, None]:
        if msg is not None and msg.left_behind:
            behind.append(msg)
            continue
        if behind:
            render_left_behind(behind, nodes, labels, head, chat)
            behind = []
        if msg is not None:
            render_message(chat, msg, nodes, labels, head)
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
