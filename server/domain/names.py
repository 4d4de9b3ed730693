"""What a name may hold: handles, display names, group names, subjects, OOO messages.

Names are shown to other people, one line each, next to other people's names, so they may
not carry anything that drives a terminal, reorders text or hides in it: control characters
(C0, DEL, C1), line and paragraph separators, bidi embeddings, overrides and isolates, and the
invisible format characters (zero-width space, word joiner, byte-order mark, soft hyphen…).
The zero-width joiner and non-joiner stay: emoji sequences and several scripts need them.

Message bodies are not names: they keep exactly what was sent (someone may paste a log with
colour codes), and the client neutralises them when it shows them.
"""

from __future__ import annotations

import unicodedata

from server.domain.errors import Invalid

HANDLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
MAX_HANDLE = 64
# Bidi embeddings, overrides and isolates, and the bidi marks.
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Characters that draw nothing (and the Hangul fillers, which draw a blank).
INVISIBLE = frozenset(
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060\u2061\u2062\u2063\u2064\u3164\ufeff\uffa0"
)
JOINERS = frozenset("\u200c\u200d")
_FORBIDDEN_CATEGORIES = ("Cc", "Cs", "Zl", "Zp")
_NAMES = {
    "\u202e": "a right-to-left override",
    "\u202d": "a left-to-right override",
    "\u200b": "a zero-width space",
    "\ufeff": "a byte-order mark",
}


def name_problem(value: str) -> str | None:
    """Why this text cannot be a name, or None. Looks at every character once."""
    for ch in value:
        if ch in JOINERS:
            continue
        category = unicodedata.category(ch)
        if category in _FORBIDDEN_CATEGORIES:
            if ch == "\n":
                return "it cannot hold a line break"
            return f"it cannot hold control characters (U+{ord(ch):04X})"
        if ch in BIDI:
            what = _NAMES.get(ch, "bidi control characters")
            return f"it cannot hold {what} (U+{ord(ch):04X}), which reorders the text around it"
        if ch in INVISIBLE or category == "Cf":
            what = _NAMES.get(ch, "invisible characters")
            return f"it cannot hold {what} (U+{ord(ch):04X})"
    return None


def check_text(value: object, what: str, code: str, *, limit: int, blank: bool = False) -> str:
    """A name of at most `limit` characters, surrounding spaces dropped; `Invalid(code)` if not.

    `blank`: an empty or all-space value is allowed (and returned as "")."""
    if not isinstance(value, str):
        raise Invalid(code, f"{what} must be text")
    if len(value) > limit:
        raise Invalid(code, f"{what} is {len(value)} characters; the limit is {limit}")
    stripped = value.strip()
    if not stripped and not blank:
        raise Invalid(code, f"{what} cannot be empty")
    problem = name_problem(value)
    if problem is not None:
        raise Invalid(code, f"{what}: {problem}")
    return stripped


def fold(text: str) -> str:
    """How two names compare: NFKC-normalised and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _script(ch: str) -> str:
    """The script a letter is written in, from its Unicode name (LATIN, CYRILLIC, GREEK…)."""
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


def handle_problem(handle: object) -> str | None:
    """Why this cannot be a handle, or None. The whole string must match: `jin.park\\n` is refused."""
    if not isinstance(handle, str) or not handle:
        return "a handle is required"
    if len(handle) > MAX_HANDLE:
        return f"a handle is at most {MAX_HANDLE} characters"
    if all(ch in HANDLE_CHARS for ch in handle):
        return None
    folded = fold(handle)
    if folded != handle and all(ch in HANDLE_CHARS for ch in folded):
        return f"handles are written in lowercase: use {folded!r}"
    scripts = {_script(ch) for ch in handle if ch.isalpha()}
    if "LATIN" in scripts and len(scripts) > 1:
        others = ", ".join(sorted(s.title() for s in scripts - {"LATIN"}))
        return f"{handle!r} mixes Latin letters with {others} look-alikes; use only a-z 0-9 . _ -"
    return f"{handle!r} is not a valid handle: use 1-{MAX_HANDLE} of a-z 0-9 . _ - (no spaces, no line breaks)"


def check_handle(handle: object, code: str) -> str:
    """A valid handle, or `Invalid(code)` saying what is wrong."""
    problem = handle_problem(handle)
    if problem is not None:
        raise Invalid(code, problem)
    assert isinstance(handle, str)
    return handle
