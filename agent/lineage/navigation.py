"""Finding the version a navigation request means (agent.reading.references reads the request).

navigate(nav, nodes, head_id, groups) finds the node. A change is found by its step's
instruction, the words its caption gained over its parent's, its focus words and the
user's request that made it (all its steps), compared through agent.reading.words (lemmas and
a few derivations). On the current branch the change is taken; elsewhere a single
match is taken, several make a question naming them, and none moves nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agent.lineage import walks as lineage
from agent.reading import meaning
from agent.reading.references import Nav, Target
from agent.reading.words import content_words, forms, keys, matches

# Edits named by what they took away ("remove the glasses") do not give the image the words.
_REMOVAL = re.compile(r"^(?:remove|erase|delete|take (?:off|away|out)|get rid of|drop|lose|"
                      r"without|no more)\b", re.IGNORECASE)


NEAR = 0.45  # the least similarity for a word the conversation never used to stand for one


@dataclass(frozen=True)
class Change:
    """One user request's steps (or a single step), first to last, and what names it."""

    steps: tuple
    request: str

    @property
    def first(self):
        return self.steps[0]

    @property
    def last(self):
        return self.steps[-1]

    def label(self) -> str:
        text = self.request or " ".join(s.instruction or "" for s in self.steps)
        return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Outcome:
    """Where the head goes (node), or a question (kind "ask") or why not (kind "none")."""

    node: object | None
    kind: Literal["move", "ask", "none"]
    text: str = ""
    candidates: tuple = ()


class _Index:
    def __init__(self, nodes, groups, caption_of: Callable):
        self.nodes = list(nodes)
        self.by_id = lineage.by_id(self.nodes)
        self.caption_of = caption_of
        self._caps: dict[str, frozenset[str]] = {}
        self.group_of: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.requests = [(r or "", tuple(ids)) for r, ids in groups]
        for request, ids in groups:
            ids = tuple(i for i in ids if i in self.by_id)
            for i in ids:
                self.group_of[i] = (request or "", ids)

    def vocabulary(self) -> frozenset[str]:
        """Every word the conversation's captions, instructions and requests use."""
        if not hasattr(self, "_vocab"):
            out: set[str] = set()
            for n in self.nodes:
                out |= self.caption_keys(n) | keys(n.instruction)
            for request, _ in self.requests:
                out |= keys(request)
            self._vocab = frozenset(w for w in out if w.isalpha() and len(w) > 2)
        return self._vocab

    def known(self, query: Sequence[str]) -> list[str]:
        """The query with each word the conversation never used replaced by its nearest
        word in spelling ("umbrelas" -> "umbrellas") or meaning ("cartoonified" ->
        "cartoon", "dark" -> "night"), when one is clearly nearest."""
        vocab = self.vocabulary()
        out = []
        for q in query:
            if forms(q) & vocab or not q.isalpha():
                out.append(q)
                continue
            close = difflib.get_close_matches(q, sorted(vocab), n=1, cutoff=0.8)
            if close:
                out.append(close[0])
                continue
            near = meaning.nearest(q, vocab)
            if near is not None and near.score >= NEAR and near.score - near.runner_up >= 0.05:
                out.append(near.word)
            else:
                out.append(q)
        return out

    def caption_keys(self, node) -> frozenset[str]:
        if node.id not in self._caps:
            self._caps[node.id] = keys(self.caption_of(node))
        return self._caps[node.id]

    def parent(self, node):
        return self.by_id.get(node.parent_id) if node.parent_id else None

    def step_keys(self, node, *, gained: bool) -> frozenset[str]:
        """What names a step: its instruction (unless it took the words away, for gained),
        the words its caption gained, its focus words."""
        parent = self.parent(node)
        cap = self.caption_keys(node)
        added = cap - self.caption_keys(parent) if parent is not None else cap
        out = set(added) | keys(" ".join(node.focus_words or ()))
        if not gained and parent is not None:  # "before the brown bench turned red"
            out |= self.caption_keys(parent) - cap
        if not (gained and _REMOVAL.match(node.instruction or "")):
            out |= keys(node.instruction)
        return frozenset(out)

    def changes(self, query: Sequence[str], *, gained: bool) -> list[Change]:
        """The changes that name every query word, oldest first."""
        out, seen = [], set()
        for node in self.nodes:
            if node.parent_id is None or node.id in seen:
                continue
            request, ids = self.group_of.get(node.id, ("", (node.id,)))
            steps = [self.by_id[i] for i in ids]
            seen.update(ids)
            # a step whose instruction says it ("make the circle blue and the square red":
            # before the square is between the steps); else the request, when it says it
            # ("undo the vintage look": before all its steps); else any step that names it.
            # A version "with" it is where the request ended.
            named = [s for s in steps if matches(query, self.step_keys(s, gained=gained))]
            told = [s for s in named if matches(query, keys(s.instruction))]
            said = keys(request) if not (gained and _REMOVAL.match(request)) else frozenset()
            if request and matches(query, said):
                named = told if told and not gained else steps  # "the snowy one": its end
            elif not named and request and matches(query, said.union(
                    *(self.step_keys(s, gained=gained) for s in steps))):
                named = steps
            if named:
                first, last = steps.index(named[0]), steps.index(named[-1])
                out.append(Change(tuple(steps[first:last + 1]), request))
        return out

    def introduced(self, change: Change, query: Sequence[str]) -> bool:
        parent = self.parent(change.first)
        return matches(query, self.caption_keys(change.last)) and not (
            parent is not None and matches(query, self.caption_keys(parent)))


def navigate(nav: Nav, nodes, head_id: str | None, groups=(), redo_hint: str | None = None,
             caption_of: Callable = lambda n: n.caption, came_from: str | None = None) -> Outcome:
    """The node a navigation request means, over the conversation's nodes.

    groups: (request text, node ids it produced) of the edit requests, oldest first.
    redo_hint: the branch tip the last undo left (redo goes back toward it); came_from:
    where the last move started ("back to where I was")."""
    nodes = list(nodes)
    if not nodes or head_id is None:
        return Outcome(None, "none", "There are no images yet: nothing to go back to.")
    ix = _Index(nodes, groups, caption_of)
    if nav.kind == "undo":
        if nav.whole:
            return _plain(*_undo_requests(ix, head_id, nav.count))
        return _plain(*lineage.undo(nodes, head_id, nav.count))
    if nav.kind == "redo":
        return _redo(ix, head_id, redo_hint)
    if nav.kind == "branch":
        return _branch(ix, nav.target, head_id)
    if nav.target is not None and nav.target.how in ("request", "made", "before_last",
                                                      "came_from"):
        return _by_order(ix, nav.target, head_id, came_from)
    return _goto(ix, nav.target, head_id)


def _undo_requests(ix: _Index, head_id: str, count: int):
    """Back past whole requests: from any step of a request of several steps to the
    image before its first step."""
    node = ix.by_id[head_id]
    if node.parent_id is None:
        return None, "This is the original image: there is nothing to undo."
    for _ in range(max(1, count)):
        if node.parent_id is None:
            break
        _, ids = ix.group_of.get(node.id, ("", (node.id,)))
        first = ix.by_id.get(ids[0]) if ids else node
        if first is None or first.id not in {n.id for n in lineage.path(ix.nodes, node.id)}:
            first = node
        node = ix.parent(first) or node
    return node, None


def _redo(ix: _Index, head_id: str, hint: str | None) -> Outcome:
    """Forward: toward where an undo came from, else the only later image; with several
    later images and no move to go back on, ask which."""
    kids = lineage.children(ix.nodes, head_id)
    if not kids:
        return Outcome(None, "none", "There is nothing to redo: this image has no later edits.")
    if hint and hint in ix.by_id:
        ids = [n.id for n in lineage.path(ix.nodes, hint)]
        if head_id in ids[:-1]:
            return Outcome(ix.by_id[ids[ids.index(head_id) + 1]], "move")
    if len(kids) == 1:
        return Outcome(kids[0], "move")
    lines = [f"- {_describe(ix, k)}: say go to the one with "
             f"{' '.join(content_words(k.instruction or '')) or k.caption}" for k in kids]
    return Outcome(None, "ask", f"Which one do you mean? This image has {len(kids)} later "
                                "versions:\n" + "\n".join(lines) + "\nI left the image where it is.",
                   tuple(kids))


def _by_order(ix: _Index, target: Target, head_id: str, came_from: str | None) -> Outcome:
    """"my third edit" (requests in the order made), "the 4th version" (images in the order
    made, the upload first), "the one before last", "where I was"."""
    if target.how == "came_from":
        if came_from and came_from in ix.by_id and came_from != head_id:
            return Outcome(ix.by_id[came_from], "move")
        return Outcome(None, "none", "You have not moved from another version yet, so I left "
                                     "the image where it is.")
    if target.how == "before_last":
        tip = lineage.branch_leaf(ix.nodes, head_id)
        parent = ix.parent(tip)
        if parent is None:
            return Outcome(None, "none", "There is no version before the latest one.")
        return Outcome(parent, "move")
    if target.how == "made":
        made = sorted(ix.nodes, key=lambda n: (n.created_at, n.id))
        k = len(made) if target.number == -1 else target.number
        if not 1 <= k <= len(made):
            return Outcome(None, "none", f"The conversation has {len(made)} images (the upload "
                                         f"is the first); there is no number {k}.")
        return Outcome(made[k - 1], "move")
    asked = []  # the requests that made images, oldest first
    seen = set()
    for _request, ids in ix.requests:
        ids = tuple(i for i in ids if i in ix.by_id)
        if ids and ids not in seen:
            seen.add(ids)
            asked.append(ids)
    k = len(asked) if target.number == -1 else target.number
    if not asked:
        return Outcome(None, "none", "You have not asked for an edit yet.")
    if not 1 <= k <= len(asked):
        return Outcome(None, "none", f"You have asked for {len(asked)} edits so far; there is "
                                     f"no edit number {k}. Say \"show the history\" to see them.")
    return Outcome(ix.by_id[asked[k - 1][-1]], "move")


def _plain(node, why) -> Outcome:
    return Outcome(node, "move") if node is not None else Outcome(None, "none", why)


def _goto(ix: _Index, target: Target, head_id: str) -> Outcome:
    nodes = ix.nodes
    head = ix.by_id[head_id]
    if target.how == "image":
        roots = sorted((n for n in nodes if n.parent_id is None), key=lambda n: (n.created_at, n.id))
        k = target.number
        if k == 0:
            others = [r for r in roots if r.id != head.root_id]
            return _plain(*((others[-1], None) if others else (None, "There is only one image.")))
        k = len(roots) if k == -1 else k
        if not 1 <= k <= len(roots):
            return Outcome(None, "none", f"The conversation has {len(roots)} uploaded or "
                                         f"generated image(s); image {k} does not exist.")
        return Outcome(roots[k - 1], "move")
    branch = lineage.current_branch(nodes, head.id)
    if target.how == "original":
        return Outcome(branch[0], "move")
    if target.how == "turn":
        n = target.number
        if n == -1:
            return Outcome(branch[-1], "move")
        if 0 <= n < len(branch):
            return Outcome(branch[n], "move")
        return Outcome(None, "none", f"This branch has turns 0 (the original) to "
                                     f"{len(branch) - 1}; there is no turn {n}. Say \"show the "
                                     "history\" to see them.")
    if target.how == "other":
        return _branch(ix, target, head_id)
    query = ix.known(content_words(target.words))  # the LLM's words come as it wrote them
    if target.how == "state":
        return _state(ix, branch, query, ix.known(content_words(target.without)), target.still)
    if not query:
        return Outcome(None, "none", "I could not tell which version you mean; say \"show the "
                                     "history\" to see them.")
    before = target.how == "before"
    changes = ix.changes(query, gained=not before)
    if not changes:
        if before:
            return _before_state(ix, branch, query)
        return _state(ix, branch, query, [], False)
    own = {n.id for n in lineage.path(nodes, head_id)}
    mine = [c for c in changes if c.first.id in own]  # the head's own history first
    on = mine or ([c for c in changes if c.first.id in {n.id for n in branch}] if before else [])
    pool = on or changes
    if len(pool) > 1:
        intro = [c for c in pool if ix.introduced(c, query)]
        if on and intro:
            pool = intro[:1]
        elif intro:
            pool = intro
    if len(pool) > 1:
        return _ask(ix, [(c.first if before else c.last, c) for c in pool], before, query)
    change = pool[0]
    if before:
        parent = ix.parent(change.first)
        if parent is None:
            return Outcome(None, "none", "That made a new image; there is no version before it.")
        return Outcome(parent, "move")
    return Outcome(change.last, "move")


def _before_state(ix: _Index, branch, query) -> Outcome:
    has = [n for n in ix.nodes if matches(query, ix.caption_keys(n))]
    if not has:
        return _nothing(query)
    if any(n.parent_id is None for n in has if n.id in {b.id for b in branch}) or \
            all(n.parent_id is None for n in has):
        return Outcome(None, "none", f"The original image already has \"{' '.join(query)}\"; "
                                     "there is no version before it.")
    first = next((n for n in branch if n in has), None)
    if first is not None:
        return Outcome(ix.parent(first), "move")
    intro = [n for n in has if n.parent_id and not matches(query, ix.caption_keys(ix.parent(n)))]
    if len(intro) == 1:
        return Outcome(ix.parent(intro[0]), "move")
    return _ask(ix, [(n, None) for n in intro], True, query) if intro else _nothing(query)


def _state(ix: _Index, branch, query, without, still: bool) -> Outcome:
    def holds(n) -> bool:
        have = ix.caption_keys(n)
        return (not query or matches(query, have)) and not any(forms(w) & have for w in without)

    on = [holds(n) for n in branch]
    if any(on):
        start = on.index(True)
        end = start
        while end + 1 < len(on) and on[end + 1]:
            end += 1
        last = still or (without and not query)
        return Outcome(branch[end] if last else branch[start], "move")
    if not query:
        return _nothing(without)
    intro = [n for n in ix.nodes if holds(n) and (n.parent_id is None or not holds(ix.parent(n)))]
    if len(intro) == 1:
        return Outcome(intro[0], "move")
    if intro:
        return _ask(ix, [(n, None) for n in intro], False, query)
    return _nothing(query)


def _nothing(query) -> Outcome:
    what = " ".join(query)
    return Outcome(None, "none", f"I found no version with \"{what}\" in this conversation, so "
                                 "I left the image where it is. Say \"show the history\" to "
                                 "see every version.")


def _describe(ix: _Index, node) -> str:
    if node.parent_id is None:
        return f"the original (\"{ix.caption_of(node)}\")"
    request, _ = ix.group_of.get(node.id, ("", ()))
    what = node.instruction or ix.caption_of(node)
    return f"turn #{node.depth}: \"{what}\"" + (f" (from \"{request}\")" if request and
                                                 request.lower() != what.lower() else "")


def _ask(ix: _Index, found, before: bool, query) -> Outcome:
    """A question naming the candidates, each with words that find it alone."""
    lines, seen = [], set()
    for node, change in found:
        if node.id in seen:
            continue
        seen.add(node.id)
        step = change.first if change is not None else node
        words = " ".join(content_words(step.instruction or "")) or " ".join(query)
        say = f"go back to before \"{step.instruction}\"" if before and step.instruction else \
            f"go back to the one with {words}"
        lines.append(f"- {_describe(ix, node)}: say {say}")
    text = (f"Which one do you mean? \"{' '.join(query)}\" fits {len(lines)} versions:\n"
            + "\n".join(lines) + "\nI left the image where it is.")
    return Outcome(None, "ask", text, tuple(n for n, _ in found))


def _branch(ix: _Index, target: Target | None, head_id: str) -> Outcome:
    nodes = ix.nodes
    head = ix.by_id[head_id]
    tips = sorted(lineage.leaves(nodes), key=lambda n: (n.created_at, n.id), reverse=True)
    oldest_first = {t.id: k for k, t in enumerate(reversed(tips))}
    current = lineage.branch_leaf(nodes, head_id)
    if target is None:  # "switch branch": the most recent other tip
        others = [t for t in tips if t.id != current.id]
        if not others:
            return Outcome(None, "none", "There is only one branch: edit an earlier version to "
                                         "start another.")
        return Outcome(others[0], "move")
    if target.how == "other":
        others = [t for t in tips if t.id != current.id and t.root_id == head.root_id]
        if not others:
            others = [t for t in tips if t.id != current.id]
        if len(others) == 1:
            return Outcome(others[0], "move")
        if not others:
            return Outcome(None, "none", "There is only one branch: edit an earlier version to "
                                         "start another.")
        return _ask_branches(ix, sorted(others, key=lambda t: oldest_first[t.id]), current,
                             "the other version")
    query = ix.known(content_words(target.words))
    without = ix.known(content_words(target.without))

    def has(tip) -> bool:
        chain = lineage.path(nodes, tip.id)
        named = any(matches(query, ix.caption_keys(n)) or (n.parent_id and matches(
            query, ix.step_keys(n, gained=True))) for n in chain)
        return named and not any(forms(w) & ix.caption_keys(tip) for w in without)

    found = [t for t in tips if has(t)]
    others = [t for t in found if t.id != current.id]
    if not found:
        return Outcome(None, "none", f"No branch has \"{' '.join(query)}\" in it; I left the "
                                     "image where it is.")
    if not others:
        if head_id != current.id:
            return Outcome(current, "move")
        return Outcome(None, "none", f"You are on the branch with \"{' '.join(query)}\" "
                                     "already.")
    if len(others) == 1:
        return Outcome(others[0], "move")
    return _ask_branches(ix, sorted(others, key=lambda t: oldest_first[t.id]), current,
                         ' '.join(query))


def _ask_branches(ix: _Index, tips, current, what: str) -> Outcome:
    """Name each branch by its first change that the others do not share."""
    paths = {t.id: lineage.path(ix.nodes, t.id) for t in [*tips, current]}
    lines = []
    for tip in tips:
        shared = {n.id for t in [*tips, current] if t.id != tip.id for n in paths[t.id]}
        own = [n for n in paths[tip.id] if n.id not in shared and n.parent_id]
        step = own[0] if own else tip
        request, _ = ix.group_of.get(step.id, ("", ()))
        words = " ".join(content_words(request or step.instruction or "")) or "its change"
        lines.append(f"- the branch ending at {_describe(ix, tip)}: say switch to the branch "
                     f"with {words}")
    text = (f"Which one do you mean? \"{what}\" fits {len(lines)} branches:\n" + "\n".join(lines)
            + "\nI left the image where it is.")
    return Outcome(None, "ask", text, tuple(tips))
