"""Walks over a conversation's lineage: paths, branches, undo and redo.

Pure functions over the store's node records (id, parent_id, root_id, depth, kind,
caption, instruction, created_at); agent.lineage.navigation finds the node a message means.
"The current branch" is the path from the root to the most recent leaf below the head,
so "back to turn 2" still works after an undo. Turn n is the node at depth n on that
path (the original is turn 0), the "#n" of the history.
"""

from __future__ import annotations

from storage.walks import ancestors


def by_id(nodes) -> dict:
    return {n.id: n for n in nodes}


def children(nodes, node_id: str) -> list:
    return sorted((n for n in nodes if n.parent_id == node_id), key=lambda n: (n.created_at, n.id))


def kids_of(nodes) -> dict:
    """{parent id: its children, oldest first} in one pass (walks of any depth stay linear)."""
    out: dict = {}
    for n in sorted(nodes, key=lambda n: (n.created_at, n.id)):
        out.setdefault(n.parent_id, []).append(n)
    return out


def path(nodes, node_id: str) -> list:
    """Root first."""
    index = by_id(nodes)  # a cycle or a dangling parent raises BrokenTreeError, never hangs
    return [index[i] for i in reversed(ancestors(node_id, lambda i: index[i].parent_id))]


def leaves(nodes) -> list:
    parents = {n.parent_id for n in nodes}
    return [n for n in nodes if n.id not in parents]


def subtree(nodes, node_id: str) -> list:
    index = kids_of(nodes)
    out, frontier, seen = [], [node_id], {node_id}
    while frontier:
        nid = frontier.pop()
        kids = [n for n in index.get(nid, ()) if n.id not in seen]  # cycle-safe
        seen.update(k.id for k in kids)
        out += kids
        frontier += [k.id for k in kids]
    return out


def branch_leaf(nodes, head_id: str):
    """The most recent leaf at or below the head (the tip of the current branch)."""
    tips = {n.id for n in leaves(nodes)}
    below = [n for n in subtree(nodes, head_id) if n.id in tips]
    if not below:
        return by_id(nodes)[head_id]
    return max(below, key=lambda n: (n.created_at, n.id))


def current_branch(nodes, head_id: str) -> list:
    return path(nodes, branch_leaf(nodes, head_id).id)


def undo(nodes, head_id: str, count: int = 1):
    """(node, None) or (None, why)."""
    chain = path(nodes, head_id)
    if len(chain) == 1:
        return None, "This is the original image: there is nothing to undo."
    return chain[max(0, len(chain) - 1 - count)], None


def redo(nodes, head_id: str, hint_id: str | None = None):
    """The child of the head toward the last undone node, else its most recent child."""
    kids = children(nodes, head_id)
    if not kids:
        return None, "There is nothing to redo: this image has no later edits."
    if hint_id and hint_id in by_id(nodes):
        chain = path(nodes, hint_id)
        ids = [n.id for n in chain]
        if head_id in ids[:-1]:
            return chain[ids.index(head_id) + 1], None
    return kids[-1], None


def history_text(nodes, head_id: str | None, caption_of=lambda n: n.caption) -> str:
    """The lineage as an indented tree; the head is marked."""
    if not nodes:
        return "No images yet."
    lines = ["History (#n = turn n of its branch; <- marks the head):"]
    index = kids_of(nodes)
    roots = index.get(None, [])
    # depth first with an explicit stack (a chain thousands of edits deep is no problem);
    # a line past the 80 shown is only counted
    stack = [(root, 0, f"Image {i} #0" if len(roots) > 1 else "#0")
             for i, root in reversed(list(enumerate(roots, 1)))]
    seen: set = set()
    while stack:
        node, indent, label = stack.pop()
        if node.id in seen:  # a damaged tree: each node once
            continue
        seen.add(node.id)
        if len(lines) < 80:
            mark = "  <- head" if node.id == head_id else ""
            if node.parent_id is None:
                text = f"{label} {node.kind}: \"{caption_of(node) or '(no caption yet)'}\""
            else:
                text = f"#{node.depth} {node.instruction or node.caption}"
            lines.append("  " * indent + text + mark)
        else:
            lines.append("")
        stack += [(kid, indent + 1, "") for kid in reversed(index.get(node.id, []))]
    if len(lines) > 80:
        lines = lines[:79] + [f"... and {len(lines) - 79} more"]
    return "\n".join(lines)
