"""Tree walks that terminate on any data: a cycle or a dangling parent is reported, never
followed for ever (a database can be damaged by an import, a disk or a hand)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from storage.errors import StorageError


class BrokenTreeError(StorageError):
    """A parent chain loops back on itself or names a row that does not exist."""


def ancestors(start: Hashable, parent_of: Callable[[Hashable], Hashable | None],
              what: str = "node") -> list:
    """[start, parent, grandparent, ...] up to the root; BrokenTreeError on a cycle.
    parent_of(x) returns x's parent or None; it may raise KeyError for a dangling id."""
    chain, seen = [start], {start}
    while True:
        try:
            parent = parent_of(chain[-1])
        except KeyError:
            raise BrokenTreeError(
                f"{what} {chain[-1]}: its parent is missing (run `mtedit doctor`)"
            ) from None
        if parent is None:
            return chain
        if parent in seen:
            raise BrokenTreeError(
                f"{what} {start}: its ancestors loop back to {parent} (run `mtedit doctor`)"
            )
        seen.add(parent)
        chain.append(parent)


def find_cycles(parents: Mapping[Hashable, Hashable | None]) -> list[list]:
    """Each cycle in a child -> parent map once, as a list of ids (linear time)."""
    state: dict = {}  # id -> 1 while on the current path, 2 when done
    cycles = []
    for start in parents:
        path = []
        node = start
        while node is not None and node in parents and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = parents[node]
        if node is not None and state.get(node) == 1:  # came back onto this path
            cycles.append(path[path.index(node):])
        for n in path:
            state[n] = 2
    return cycles
