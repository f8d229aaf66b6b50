"""Finding the node a rollback, redo or branch switch means, over a conversation's lineage.

Pure functions over the store's node records (id, parent_id, root_id, depth, kind,
caption, instruction, created_at). "The current branch" is the path from the root to
the most recent leaf below the head, so "back to turn 2" still works after an undo.
Turn n is the node at depth n on that path (the original is turn 0), the "#n" of the
history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.intents import Target

_STOP = frozenset([
    "a", "an", "the", "to", "of", "in", "on", "at", "and", "or", "with", "before", "after",
    "back", "go", "it", "its", "that", "this", "one", "image", "picture", "photo", "version",
    "was", "is", "look", "looks", "style", "effect", "edit", "edits", "change", "changes",
    "filter", "step", "thing", "part", "bit", "added", "made", "where", "when", "had",
])


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower()) if w not in _STOP]


def mentions(text: str | None, words: Sequence[str]) -> bool:
    """All words occur in text as whole words (plurals too: "hat" finds "hats")."""
    if not text or not words:
        return False
    return all(re.search(rf"\b{re.escape(w)}(?:s|es)?\b", text, re.IGNORECASE) for w in words)


def by_id(nodes) -> dict:
    return {n.id: n for n in nodes}


def children(nodes, node_id: str) -> list:
    return sorted((n for n in nodes if n.parent_id == node_id), key=lambda n: (n.created_at, n.id))


def path(nodes, node_id: str) -> list:
    """Root first."""
    index = by_id(nodes)
    chain = [index[node_id]]
    while chain[-1].parent_id is not None:
        chain.append(index[chain[-1].parent_id])
    return chain[::-1]


def leaves(nodes) -> list:
    parents = {n.parent_id for n in nodes}
    return [n for n in nodes if n.id not in parents]


def subtree(nodes, node_id: str) -> list:
    out, frontier = [], [node_id]
    while frontier:
        nid = frontier.pop()
        kids = [n for n in nodes if n.parent_id == nid]
        out += kids
        frontier += [k.id for k in kids]
    return out


def branch_leaf(nodes, head_id: str):
    """The most recent leaf at or below the head (the tip of the current branch)."""
    below = [n for n in subtree(nodes, head_id) if n in leaves(nodes)]
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


def _introduced(nodes_on_path, words):
    """The first node on the path whose step mentions the words (or whose caption first does)."""
    for n in nodes_on_path:
        if n.parent_id is not None and mentions(n.instruction, words):
            return n
    prev = None
    for n in nodes_on_path:
        if mentions(n.caption, words) and (prev is None or not mentions(prev.caption, words)):
            return n
        prev = n
    return None


def _by_request(groups, words, branch_ids: set, index: dict):
    """The nodes of the latest request that mentions the words ("undo the vintage edit"),
    preferring requests whose nodes lie on the current branch."""
    hits = [ids for request, ids in groups
            if ids and mentions(request, words) and all(i in index for i in ids)]
    on_branch = [ids for ids in hits if ids[0] in branch_ids]
    chosen = (on_branch or hits or [None])[-1]
    return [index[i] for i in chosen] if chosen else None


def resolve(target: Target, nodes, head_id: str | None, groups=()):
    """The node a goto target names: (node, None) or (None, a sentence saying why not).

    groups: (request text, node ids it produced) of earlier edit requests, oldest first, so
    "before the vintage look" finds the start of the whole multi-step plan."""
    if not nodes:
        return None, "There are no images in this conversation yet."
    index = by_id(nodes)
    head = index.get(head_id) if head_id else None
    if target.how == "image":
        roots = sorted((n for n in nodes if n.parent_id is None), key=lambda n: (n.created_at, n.id))
        k = target.number
        if k == 0 and head is not None:  # "the other image"
            others = [r for r in roots if r.id != head.root_id]
            return (others[-1], None) if others else (None, "There is only one image.")
        k = len(roots) if k == -1 else k
        if not 1 <= k <= len(roots):
            return None, (f"The conversation has {len(roots)} uploaded or generated "
                          f"image(s); image {k} does not exist.")
        return roots[k - 1], None
    if head is None:
        return None, "There is no current image yet."
    branch = current_branch(nodes, head.id)
    if target.how == "original":
        return branch[0], None
    if target.how == "turn":
        n = target.number
        if n == -1:
            return branch[-1], None
        if 0 <= n < len(branch):
            return branch[n], None
        return None, (f"This branch has turns 0 (the original) to {len(branch) - 1}; "
                      f"there is no turn {n}. Say \"show the history\" to see them.")
    words = content_words(target.words)
    if not words:
        return None, "I could not tell which edit you mean; say \"show the history\" to see them."
    # a step that says it ("add a hat"), else a request that did ("make it vintage": all its
    # steps), else the first caption that mentions it
    found = next((n for n in branch if n.parent_id is not None and mentions(n.instruction, words)),
                 None)
    group = None if found else _by_request(groups, words, {n.id for n in branch}, index)
    if group is not None:
        if target.how == "at":
            return group[-1], None
        first = group[0]
        if first.parent_id is None:
            return None, "That request made a new image; there is no version before it."
        return index[first.parent_id], None
    found = found or _introduced(branch, words)
    if found is None:  # another branch
        for leaf in sorted(leaves(nodes), key=lambda n: (n.created_at, n.id), reverse=True):
            found = _introduced(path(nodes, leaf.id), words)
            if found is not None:
                break
    if found is None:
        return None, (f"I found no edit about \"{' '.join(words)}\" in this conversation; "
                      "say \"show the history\" to see the edits.")
    if target.how == "at":
        return found, None
    if found.parent_id is None:
        return None, (f"The original image already has \"{' '.join(words)}\"; "
                      "there is no version before it.")
    return index[found.parent_id], None


def switch_branch(nodes, head_id: str | None, words: str = ""):
    """Another branch tip: one whose path mentions the words, else the most recent other."""
    if head_id is None:
        return None, "There are no images yet."
    tips = sorted(leaves(nodes), key=lambda n: (n.created_at, n.id), reverse=True)
    current = branch_leaf(nodes, head_id)
    others = [t for t in tips if t.id != current.id]
    wanted = content_words(words)
    if wanted:
        for tip in tips:
            chain = path(nodes, tip.id)
            if any(mentions(n.instruction, wanted) or mentions(n.caption, wanted) for n in chain):
                if tip.id == current.id and head_id == tip.id:
                    continue
                return tip, None
        return None, f"No branch has \"{' '.join(wanted)}\" in it."
    if not others:
        return None, "There is only one branch: edit an earlier version to start another."
    return others[0], None


def history_text(nodes, head_id: str | None, caption_of=lambda n: n.caption) -> str:
    """The lineage as an indented tree; the head is marked."""
    if not nodes:
        return "No images yet."
    lines = ["History (#n = turn n of its branch; <- marks the head):"]
    roots = sorted((n for n in nodes if n.parent_id is None), key=lambda n: (n.created_at, n.id))

    def walk(node, indent: int, label: str) -> None:
        mark = "  <- head" if node.id == head_id else ""
        if node.parent_id is None:
            text = f"{label} {node.kind}: \"{caption_of(node) or '(no caption yet)'}\""
        else:
            text = f"#{node.depth} {node.instruction or node.caption}"
        lines.append("  " * indent + text + mark)
        for kid in children(nodes, node.id):
            walk(kid, indent + 1, "")

    for i, root in enumerate(roots, 1):
        walk(root, 0, f"Image {i} #0" if len(roots) > 1 else "#0")
    if len(lines) > 80:
        lines = lines[:79] + [f"... and {len(lines) - 79} more"]
    return "\n".join(lines)
