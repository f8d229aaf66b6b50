"""Labels for the images of a conversation, unique within it: "2", then "2b", "2c" ...

The number is the turn (the node's depth: 0 for an upload or a generated image); the
letter tells apart the images of the same turn on different branches, in the order
they were made ("2" is the first turn-2 image, "2b" the second). Labels never change
as the conversation grows: new nodes only take new letters.
"""

from __future__ import annotations

from collections.abc import Iterable


def letters(i: int) -> str:
    """"" for 0, then "b", "c", ..., "z", "aa", "ab", ... (bijective base 26 of i + 1)."""
    if i <= 0:
        return ""
    n, out = i + 1, ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def node_labels(nodes: Iterable) -> dict[str, str]:
    """{node id: label} for nodes with .id, .depth and .created_at (any order)."""
    seen: dict[int, int] = {}
    labels: dict[str, str] = {}
    for node in sorted(nodes, key=lambda n: (n.created_at, n.depth)):
        k = seen.get(node.depth, 0)
        seen[node.depth] = k + 1
        labels[node.id] = f"{node.depth}{letters(k)}"
    return labels
