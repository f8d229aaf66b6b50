"""Where each node of a lineage sits: a layered tree, one layer per turn.

A node's layer is its depth from its root. Its lane is shared with its first child, so
an unbranched run of turns stays on one straight line; every later child opens a new
lane after all the lanes its older siblings' subtrees took (a git-log style layout).
Lanes never cross, so each branch reads as one line of thumbnails. O(n), no recursion
(a run of thousands of turns is fine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placed:
    id: str
    layer: int  # depth from its root: 0 for an upload
    lane: int  # the branch line it is drawn on
    parent: str | None  # the node its line comes from (None: a root)


def place(ids: Sequence[str], parents: Sequence[str | None]) -> list[Placed]:
    """Layers and lanes for nodes given as parallel lists, in the order to draw siblings
    (oldest first). A parent that is not in the list makes the node a root; so does a
    parent cycle (broken at the first node of the cycle met in list order)."""
    index = {i: k for k, i in enumerate(ids)}
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for i, p in zip(ids, parents, strict=True):
        if p is None or p not in index or p == i:
            roots.append(i)
        else:
            children.setdefault(p, []).append(i)

    placed: dict[str, Placed] = {}
    next_lane = -1

    def walk(start: str) -> None:
        nonlocal next_lane
        # Stack of (node, its parent or None, inherited lane or None for a new lane).
        stack: list[tuple[str, str | None, int | None, int]] = [(start, None, None, 0)]
        while stack:
            node, parent, lane, layer = stack.pop()
            if node in placed:
                continue
            if lane is None:
                next_lane += 1
                lane = next_lane
            placed[node] = Placed(node, layer, lane, parent)
            kids = [k for k in children.get(node, ()) if k not in placed]
            # Pushed last = popped first: the first child, on its parent's lane.
            for k, kid in reversed(list(enumerate(kids))):
                stack.append((kid, node, lane if k == 0 else None, layer + 1))

    for r in roots:
        walk(r)
    for i in ids:  # only nodes on a parent cycle are left: start each cycle anew
        if i not in placed:
            walk(i)
    return [placed[i] for i in ids]
