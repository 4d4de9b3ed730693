"""The one door for other people's text: what a teammate (or a server) wrote, made fit to show.

Everything another person controls — message bodies, display names, handles, OOO messages,
channel and team names, subjects, error texts a server echoes — reaches the screen, a toast,
a desktop notification or a log only through these functions, and then only as plain text
(a Textual `Content` built from it, never markup). No Textual import here.

The rules:
- C0 controls other than newline (tab becomes spaces), DEL and every C1 control become
  visible placeholders (the Control Pictures block: ESC shows as ␛, BEL as ␇), never raw
  bytes: nothing can set a title, write the clipboard or repaint the screen.
- Bidi embeddings, overrides and isolates show as a visible tag (⟨RLO⟩), so they cannot
  reorder what is around them. Lone surrogates become U+FFFD (they cannot be encoded).
- In names, invisible characters (zero-width space, word joiner, bidi marks, soft hyphen,
  fillers) are removed, runs of spaces become one, and the zero-width joiner stays only
  inside an emoji sequence: a name cannot pretend to be another by hiding something in it.
- Runs of combining marks are capped (no "zalgo" towers) and every text has a length cap.
"""

from __future__ import annotations

import re
import unicodedata

TAB = "    "
BODY_LIMIT = 20_000  # characters of a message shown; the rest is announced, not drawn
LINE_LIMIT = 300  # a toast or a one-line preview
NAME_LIMIT = 64
NOTIFY_LIMIT = 200  # a desktop notification's text

_BIDI = {
    0x202A: "⟨LRE⟩",
    0x202B: "⟨RLE⟩",
    0x202C: "⟨PDF⟩",
    0x202D: "⟨LRO⟩",
    0x202E: "⟨RLO⟩",
    0x2066: "⟨LRI⟩",
    0x2067: "⟨RLI⟩",
    0x2068: "⟨FSI⟩",
    0x2069: "⟨PDI⟩",
}


def _table(newline: str) -> dict[int, str]:
    table: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}  # ␀ … ␟
    table[0x09] = TAB
    table[0x0A] = newline
    table[0x7F] = "\u2421"  # ␡
    table.update({c: "\ufffd" for c in range(0x80, 0xA0)})  # C1: CSI, OSC, ST… in 8 bits
    table.update({c: "\ufffd" for c in range(0xD800, 0xE000)})  # lone surrogates
    table[0x2028] = newline  # line and paragraph separators: line breaks
    table[0x2029] = newline
    table.update(_BIDI)
    return table


_TEXT = _table("\n")
_LINE = _table(" ")
_NAME = _table("\u2424")  # ␤: a name is one line, and says it was not
# Anything the tables change: most text has none of it, and is returned as it came.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CRLF = re.compile("\r\n")
# Combining marks (the common blocks): at most a few on one letter.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u1ab0-\u1aff\u1dc0-\u1dff"
    "\u20d0-\u20ff\ufe20-\ufe2f"
)
_MARK_RUN = re.compile(f"([{_MARKS}]{{4}})[{_MARKS}]+")
# Invisible in a name: zero-width space, word joiner, invisible operators, bidi marks, BOM,
# soft hyphen, CGJ, Mongolian vowel separator, Hangul fillers, Khmer inherent vowels, tags.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200e\u200f\u2060-\u2064\u3164\ufeff\uffa0"
    "\U000e0000-\U000e007f]"
)
# Emoji (approximately Extended_Pictographic) and what may end one before a joiner.
_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf\u2934\u2935"
    "\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_LONE_JOINER = re.compile(f"(?<![{_EMOJI}\ufe0f])\u200d|\u200d(?![{_EMOJI}])")
_SPACES = re.compile(r"[^\S\n]+")


def _clean(value: object, table: dict[int, str]) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if _UNSAFE.search(text):
        text = _CRLF.sub("\n", text).translate(table)
    return _MARK_RUN.sub(r"\1", text)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: object, *, limit: int = BODY_LIMIT) -> str:
    """Several lines (a message body, an OOO message): newlines kept, everything else shown.

    Past `limit` characters the rest is not drawn; a last line says how much was left out."""
    shown = _clean(value, _TEXT)
    if len(shown) <= limit:
        return shown
    return f"{shown[:limit]}\n… {len(shown) - limit:,} more characters not shown"


def line(value: object, *, limit: int = LINE_LIMIT) -> str:
    """One line (a toast, a preview): line breaks become spaces, cut at `limit` with "…"."""
    return _cap(_SPACES.sub(" ", _clean(value, _LINE)).strip(), limit)


def name(value: object, *, limit: int = NAME_LIMIT) -> str:
    """A name (display name, handle, channel, team, subject): one line, nothing hidden in it."""
    shown = _clean(value, _NAME)
    shown = _LONE_JOINER.sub("", _INVISIBLE.sub("", shown))
    return _cap(_SPACES.sub(" ", shown).strip(), limit) or "?"


def notification(value: object, *, limit: int = NOTIFY_LIMIT) -> str:
    """Text for a desktop notification (OSC 777/9, notify-send): one line, capped, and free of
    what those carriers treat specially (`;` separates OSC 777 fields; notify-send bodies may
    be read as markup)."""
    shown = line(value, limit=limit)
    return shown.replace(";", ",").replace("<", "‹").replace(">", "›").replace("&", "+")


# Letters of other scripts that look like Latin ones (after case-folding), and digit look-alikes.
_CAPITAL_LOOKALIKES = str.maketrans("АВЕКМНОРСТХЅІЈΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEKMHOPCTXSIJABEZHIKMNOPTYX")
_LOOKALIKES = str.maketrans(
    "авеёкмнопрстухьѕіјһӏԁԛԝαβεικνορτυχω01|",  # Cyrillic, Greek, digits and a bar
    "abeekmhonpctyxbsijhldqwabeikvoptuxwoll",
)
_WORDS = re.compile(r"\w+")


def likeness(value: object) -> tuple[str, ...]:
    """What a name looks like, word by word: two names with the same likeness (or one whose
    words begin with the other's) can pass for each other on screen (`Maya Chen`, `Mаya Chen`
    with a Cyrillic а, `maya.chen`, `Maya Chen (maya.chen)`)."""
    folded = unicodedata.normalize("NFKD", name(value)).translate(_CAPITAL_LOOKALIKES).casefold()
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).translate(_LOOKALIKES)
    return tuple(word.replace("rn", "m") for word in _WORDS.findall(plain.replace("_", " ")))
