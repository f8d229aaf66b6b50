"""Does a target prompt read as a caption? `problems(prompt, before)` lists what keeps it
from reading as one, looking at the words the edit added to the caption it started from:

- words of a chat message left in: requests and modals ("make", "should", "can you"),
  people talking ("I", "you", "lol", "please"), hedges ("also", "instead", "just");
- an imperative verb that begins an added phrase ("..., lose the plant");
- a dangling article or preposition ("under a, with ...", "... with the");
- an article before a plural ("a wings");
- one object twice ("a red bicycle ... with a blue bike").

The planner's prompts (offline or LLM) are checked before anything runs
(agent/planning/safe.py); a prompt with problems is asked about, not run.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
# Words a caption never gains from an edit: they belong to the message, not the picture.
CHAT_WORDS = frozenset("""
please pls plz thanks thank thx lol lmao idk tbh af omg btw imo hmm hmmm ok okay yeah yes
can could would should shouldn't must mustn't want wanted wanna need needs gonna i i'm i'd
i've me my mine you you're your yours we we're us our u ur make makes making made
turn change changes replace swap remove delete add adding let lets let's try maybe kinda
sorta also instead just anyway actually really definitely probably perhaps somehow
something someone's somebody's whatever etc instead don't doesn't isn't aren't wasn't
think almost thing things kind sort stuff looks feels seems like
""".split())  # noqa: SIM905 - a word list
# Verbs in their base form that begin an added phrase only when a request was pasted in.
_IMPERATIVE = frozenset("""
make turn change replace swap remove delete add put give take lose drop get let try keep
move shift set paint colour color dye erase empty clear fill cut crop rotate flip mirror
resize scale blur sharpen brighten darken increase decrease reduce boost raise lower
transform convert go bring show use do apply
""".split())  # noqa: SIM905 - a word list
_DANGLING = re.compile(
    r"\b(?:a|an|the|of|with|under|on|in|at|to|for|by|from|and|or|beside|near|above|below|"
    r"behind|into|onto|over)\s*(?:,|$)"
    r"|\b(?:a|an|the)\s+(?:a|an|the|of|with|and|or|in|on|at|to)\b"
    r"|\b(?:a|an)\s+[a-z'-]+\s+(?:a|an)\s", re.IGNORECASE)  # "with a guy a full head"
_ANOTHER = re.compile(r"\b(?:another|second|more|two|three|several|extra|one more|also)\b",
                      re.IGNORECASE)
_SAME = {"bike": "bicycle", "bicycle": "bicycle", "auto": "car", "automobile": "car",
         "puppy": "dog", "kitten": "cat", "sofa": "couch", "couch": "couch"}
_PHRASES = re.compile(r"\b(?:look|looks|feel|feels|seem|seems)\s+like\b|\blike\s+it'?s\b|"
                      r"\binstead\s+of\b|\bcan\s+(?:you|we|u)\b|\b(?:he|she|it|they|i|you|we)\s+"
                      r"(?:is|are|was|were|looks?|seems?|came|comes|has|had|should|would|will|"
                      r"can|could|'s|'re|wants?|needs?)\b|\b(?:he|she|it|they)'(?:s|re)\b",
                      re.IGNORECASE)


_PRONOUN_ONE = re.compile(r"\b(?:a|an|the)\s+[a-z-]+\s+one\b|\b[a-z-]+\s+ones\b")


def _tokens(text: str) -> list[str]:
    """Words with their accents ("café"), so a word is never cut at a letter."""
    return re.findall(r"[^\W\d_][\w'-]*", (text or "").lower().replace("’", "'"))


def _known(word: str) -> bool:
    from agent.reading import spelling

    return word[0].isdigit() or all(spelling.known(p) for p in word.split("-") if p)


def words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower().replace("’", "'"))


@functools.cache
def _inflect():
    import inflect

    return inflect.engine()


@functools.lru_cache(maxsize=4096)
def _plural(word: str) -> bool:
    if not word.isalpha() or len(word) < 3 or word.endswith("ss"):
        return False
    single = _inflect().singular_noun(word)
    return bool(single) and single != word


@functools.lru_cache(maxsize=4096)
def _base_verb_only(word: str) -> bool:
    return word in _IMPERATIVE


def added_spans(before: str, after: str) -> list[list[str]]:
    """The runs of words `after` has that `before` did not (inserted or replacing)."""
    a, b = words(before), words(after)
    out = []
    for op, _i1, _i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op in ("insert", "replace") and j2 > j1:
            out.append(b[j1:j2])
    return out


def problems(prompt: str, before: str = "", request: str = "") -> list[str]:
    """What keeps `prompt` from reading as a caption of the picture; [] when it reads as one.
    request: the user's words, when known ("add another bike" may name a bike twice)."""
    found: list[str] = []
    had = set(words(before))
    spans = added_spans(before, prompt)
    added = [w for span in spans for w in span]
    chat = sorted({w for w in added if w in CHAT_WORDS and w not in had})
    if chat:
        found.append("words of the request left in: " + ", ".join(f"\"{w}\"" for w in chat))
    new_text = " ".join(" ".join(span) for span in spans)
    if _PHRASES.search(new_text) and not _PHRASES.search(before):
        found.append(f"a request's phrasing left in (\"{_PHRASES.search(new_text).group(0)}\")")
    # an added phrase that starts with an imperative verb: the request pasted as it was
    for segment in re.split(r"\s*,\s*", prompt):
        first = (words(segment) or [""])[0]
        if (_base_verb_only(first) or first in ("more", "less")) and \
                segment.strip().lower() not in before.lower():
            found.append(f"an instruction pasted in (\"{segment.strip()[:40]}\")")
            break
    odd = {ch for ch in prompt if ch not in before and not ch.isascii() and (
        not ch.isalpha() or "LATIN" not in unicodedata.name(ch, "")
        or "FULLWIDTH" in unicodedata.name(ch, "")) and ch not in "’‘“”–—…°é"}
    if odd:  # another script, an emoji, look-alike letters: not the caption's words
        found.append("characters I cannot read as English (" + "".join(sorted(set(odd)))[:8] + ")")
    if re.search(r"[?!]", prompt) and not re.search(r"[?!]", before):
        found.append("a question or an exclamation mark of the message left in")
    pronoun = next((m for m in _PRONOUN_ONE.finditer(prompt.lower())
                    if m.group(0) not in before.lower()), None)
    if pronoun:  # "a glass one": the thing it stands for is not said
        found.append(f"\"{pronoun.group(0)}\" standing for a thing it does not name")
    old_words = set(_tokens(before)) | set(_tokens(request))
    unknown = [w for w in dict.fromkeys(_tokens(prompt)) if w not in old_words and w.isascii()
               and not _known(w)]
    if unknown:  # a word garbled by a rule ("a wid street")
        found.append("words I do not know: " + ", ".join(f"\"{w}\"" for w in unknown[:3]))
    low_before = before.lower()
    def had_it(m: re.Match) -> bool:  # the caption had this very ending ("blurred behind")
        ctx = prompt[max(0, m.start() - 24):m.end()].lower()
        return ctx in low_before or low_before.rstrip(" .").endswith(ctx.rstrip(" ,"))

    m = next((m for m in _DANGLING.finditer(prompt) if not had_it(m)), None)
    if m:
        found.append(f"a dangling word (\"{m.group(0).strip(' ,')}\")")
    for m in re.finditer(r"\b(?:a|an)\s+([a-z][a-z'-]+)\b", prompt.lower()):
        if _plural(m.group(1)) and m.group(0) not in before.lower():
            found.append(f"\"{m.group(0)}\": an article before a plural")
            break
    dup = None if _ANOTHER.search(request) else duplicated(prompt, before)
    if dup:
        found.append(f"\"{dup}\" twice")
    return found


def duplicated(prompt: str, before: str) -> str | None:
    """An object the caption named that the edit adds again ("a red bicycle ... with a blue
    bike"): a new "a / an / some ..." phrase whose noun (or a synonym) was there already."""
    def canon(w: str) -> str:
        return _SAME.get(w, w)

    old = {canon(w) for w in words(before)}
    for span in added_spans(before, prompt):
        text = " ".join(span)
        for m in re.finditer(r"\b(?:a|an|some)\s+((?:[a-z'-]+\s+){0,3}?)([a-z'-]+)"
                             r"(?=\s+(?:on|in|at|with|by|to|next|under|over|from|near|beside|"
                             r"behind|of)\b|$)", text):
            head = canon(m.group(2))
            if head in old and head not in _FUNCTION and head not in CHAT_WORDS:
                return m.group(2)
    return None


_FUNCTION = frozenset("""
a an the of with and or in on at to for by from under over above below near beside behind
into onto its his her their this that these those some any more most very one two three
light lights soft warm cold dark bright style look colour color colours colors tone tones
glow glowing background foreground scene image photo picture painting illustration
""".split())  # noqa: SIM905 - a word list
