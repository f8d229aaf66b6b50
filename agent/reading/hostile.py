"""Text that is not a request: instruction injection, shell and format strings, code and
keyboard mash. `refusal(text)` is a polite reply naming what the text looks like, or None;
the chat answers it before anything is read or stored (agent/reading/validate.py).

Non-English text and control characters are mtedit.text.unreadable's; this file only
reads English-looking text. Every pattern is data-like and exact: a request that merely
mentions a word ("a sign that says system") passes.
"""

from __future__ import annotations

import functools
import re

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+|"
    r"every\s+)*(?:previous|prior|above|earlier|preceding|system|safety|original)?\s*"
    r"(?:instructions?|prompts?|rules?|guidelines?|directives?|constraints?|messages?)\b"
    r"|^\s*(?:system|assistant|developer|admin|root)\s*(?:prompt)?\s*[:>]"
    r"|\byou\s+are\s+(?:now|no\s+longer)\b|\b(?:developer|god|admin|debug|jailbreak|dan)\s+mode\b"
    r"|\bjailbreak\b|\bprompt\s+injection\b"
    r"|\b(?:reveal|print|output|show|list|dump|leak|tell\s+me|give\s+me|send|display|expose)\s+"
    r"(?:me\s+)?(?:all\s+|the\s+|your\s+|every\s+|any\s+)*(?:stored\s+|hidden\s+|secret\s+|"
    r"internal\s+|system\s+)*(?:file\s*(?:paths?|names?|system)|paths?|system\s+prompt|prompts?|"
    r"instructions|api[\s_-]*keys?|passwords?|secrets?|tokens?|credentials|env(?:ironment)?"
    r"(?:\s+variables?)?|config(?:uration)?|database|db|source\s+code|\.env)\b"
    r"|\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were)|an?\s+(?:unrestricted|"
    r"unfiltered|different))|\bpretend\s+(?:to\s+be|you\s+are)\b"
    r"|\bnew\s+instructions?\s*:|\bend\s+of\s+(?:system\s+)?prompt\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:everything|all|anything|what)\s+(?:above|before|"
    r"previous(?:ly)?|prior|earlier|you\s+(?:were|have\s+been)\s+told)\b"
    r"|<\|[a-z_]+\|>|</?s>|\[/?inst\]|<<\s*/?sys\s*>>|\brepeat\s+after\s+me\b"
    r"|^\W*[\[<({#*|]+\s*/?\s*(?:system|assistant|admin(?:istrator)?|developer|root|sys|operator|"
    r"instructions?|model|ai|bot|user)\s*(?:prompt|message|note)?\s*[\]>)}:|*]"
    r"|</?\s*(?:system|assistant|admin|developer|instructions?|prompt)\s*>"
    r"|#{2,}\s*(?:system|instructions?|admin|developer|assistant)\b",
    re.IGNORECASE)
_SHELL_WORDS = (r"(?:rm|ls|cat|curl|wget|sudo|su|chmod|chown|echo|bash|sh|zsh|python3?|perl|nc|"
                r"netcat|kill|shutdown|reboot|mkfs|dd|mv|cp|touch|eval|exec|export|env|printenv|"
                r"whoami|id|uname|ps|nohup|crontab|ssh|scp|tar|base64|powershell|cmd)")
_SHELL = re.compile(
    rf"^\s*{_SHELL_WORDS}(?:\s+-{{1,2}}[\w-]+|\s+[/~$])|(?:[;&|`]|\$\()\s*{_SHELL_WORDS}\b"
    r"|\$\([^)]*\)|`[^`]*`|\$\{[^}]*\}|\brm\s+-[rRf]+\b|\bsudo\s+\w+"
    r"|(?:^|\s)(?:/etc/(?:passwd|shadow|hosts)|/bin/(?:ba)?sh|/dev/(?:null|zero|random)|"
    r"~/\.ssh|\.\./\.\./|\.\.\\\.\.\\|c:\\windows)"
    r"|>\s*/dev/|\b2>&1\b|\|\s*(?:ba)?sh\b",
    re.IGNORECASE)
_CODE = re.compile(
    r"<\s*/?\s*(?:script|iframe|img|svg|object|embed|style|body|html|a\s+href)\b"
    r"|\bjavascript\s*:|\bon(?:error|load|click)\s*="
    r"|\b(?:drop|truncate|alter)\s+(?:table|database)\b|\bunion\s+(?:all\s+)?select\b"
    r"|\bselect\s+\*?\s*[\w,\s*]*\bfrom\s+\w+|\binsert\s+into\s+\w+|\bdelete\s+from\s+\w+"
    r"|\b\d+\s+or\s+\d+\s*=\s*\d+|'\s*(?:or|and)\s+'?\d+'?\s*=\s*'?\d+|'\s*;\s*--|--\s*$|/\*.*\*/"
    r"|\b(?:__import__|import\s+os|os\.system|subprocess|eval\s*\(|exec\s*\(|lambda\s*:|"
    r"def\s+\w+\s*\(|print\s*\(|console\.log|process\.env|require\s*\()"
    r"|<\?php|\{\{.*\}\}|\{%.*%\}|<%.*%>",
    re.IGNORECASE)
# printf / str.format / log4j style placeholders ("%s%n", "{0}", "${jndi:...}")
_FORMAT = re.compile(r"(?<![\w%])%(?:\d+\$)?[-+#0 ]*\d*(?:\.\d+)?[sdnxXpfoiucb](?![a-z])"
                     r"|\{\d*\}|\{[a-z_]\w*(?:\.\w+|\[\w+\])*(?:![rsa])?(?::[^{}]*)?\}"
                     r"|\$\{jndi:|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|%[0-9a-f]{2}%[0-9a-f]{2}",
                     re.IGNORECASE)

# A value from a program, not words: null, undefined, NaN, a bare number or hex value,
# JSON or a list, a link, placeholder Latin
_LITERAL = re.compile(
    r"^\s*(?:null|nil|none|undefined|nan|inf|infinity|true|false|void|[-+]?\d+(?:\.\d+)?"
    r"(?:e[-+]?\d+)?|0x[0-9a-f]+|\[.*\]|\{.*\}|<[^>]*>)\s*$"
    r"|\b(?:https?|ftp|file|data|javascript)://\S+|\bwww\.\S+\.\w+|!?\[[^\]]*\]\([^)]*\)"
    r"|\blorem\s+ipsum\b",
    re.IGNORECASE | re.DOTALL)

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
_VOWELS = set("aeiouy")


def _mash(word: str) -> bool:
    """A run of keys next to each other ("asdf", "hjkl"), one letter again and again, or a
    long word without vowels: typed by hand, not a word."""
    w = word.lower()
    if len(w) >= 4 and re.search(r"(.)\1{3,}", w):
        return True
    for row in _ROWS:
        for k in range(len(row) - 3):
            if row[k:k + 4] in w or row[k:k + 4][::-1] in w:
                return True
    letters = [c for c in w if c.isalpha()]
    if len(letters) >= 5 and not _VOWELS & set(letters):
        return True
    return re.search(r"[bcdfghjklmnpqrstvwxz]{6,}", w) is not None


def _looks_like_mash(text: str) -> bool:
    words = re.findall(r"[A-Za-z]{3,}", text)
    # letters broken up by punctuation ("a;sldkfj", "sd!f#jk"): judged as one token
    joined = [re.sub(r"[^A-Za-z]", "", t) for t in text.split()
              if len(re.findall(r"[^\w\s'-]", t)) >= 2]
    words += [w for w in joined if len(w) >= 3]
    if not words:
        return False
    mashed = [w for w in words if _mash(w)]
    symbols = len(re.findall(r"[^\w\s'.,!?-]", text))
    if symbols >= 4 and symbols > len(re.findall(r"[A-Za-z]", text)) / 2:
        return True  # more symbols than words ("#$%^&* qw!e")
    return len(mashed) * 2 >= len(words)


@functools.cache
def _known_words() -> frozenset[str]:
    """Words of the chat's own data (prompts/*.yaml): colours, places, recipe keywords ..."""
    from agent.prompts import recipes, vocabulary

    out: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, str):
            out.update(re.findall(r"[a-z]+", value.lower()))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(vocabulary())
    walk({k: r.get("keywords", []) for k, r in recipes().items()})
    return frozenset(out)


def _invented(text: str) -> bool:
    """Most words are no English words at all ("blorp the flibber with zanky gronks"): the
    lemma dictionary, the chat's own word lists and its function words know none of them."""
    from lemminflect import getAllLemmas

    from agent.reading.references import respell

    words = [w for w in re.findall(r"[a-z]{3,}", respell(text.lower()).replace("'", ""))
             if w not in _FUNCTION]
    if len(words) < 2:
        return False
    unknown = [w for w in words if w not in _known_words() and not getAllLemmas(w)
               and not getAllLemmas(w.rstrip("s"))]
    known_to_chat = any(w in _known_words() for w in words)
    return len(unknown) >= 2 and len(unknown) >= 0.7 * len(words) and not known_to_chat


_FUNCTION = frozenset("""
the and for with from into onto over under this that these those there here what which who
whom whose when where why how can could would should will shall may might must not nor yet
also just only very too its his her their our your you him them she they are was were been
being has have had does did done doing please thanks thank okay yes yeah nope
""".split())  # noqa: SIM905 - a word list


def refusal(text: str) -> str | None:
    """A polite reply for text that is no request (code, commands, injection, mash)."""
    t = " ".join((text or "").split())
    if not t:
        return None
    what = None
    if _INJECTION.search(t):
        what = "an instruction to me about my own rules or data"
    elif _SHELL.search(t):
        what = "a shell command"
    elif _CODE.search(t):
        what = "code (a script, a database query or a template)"
    elif _FORMAT.search(t):
        what = "a format string or an escaped code, not words"
    elif _LITERAL.search(t):
        what = "a value, a link or placeholder text, not a request in words"
    elif _looks_like_mash(t):
        what = "random letters"
    elif _invented(t):
        what = "words I do not know in English"
    if what is None:
        return None
    return (f"I did not act on that: it reads like {what}, not a change to the picture or a "
            "move through its versions. Nothing was stored. Tell me in plain words what to "
            "change (\"make the sky blue\", \"add a hat\") or where to go (\"undo\", \"the "
            "original\").")
