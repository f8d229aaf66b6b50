"""The lineage column: the image tree, one row per branch, each cell a thumbnail with its
label; clicking one opens its actions (make it the head, branch, download, compare)."""

from __future__ import annotations

import html
import time

import streamlit as st

from agent import ChatSession, NodeView, node_labels
from app.nodes import CELL, cell_image, image_or_placeholder, node_label, tag, thumb, what
from app.state import move_head, notice


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
    head = chat.head_id()
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
