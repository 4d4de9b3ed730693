"""What a reaction is: one emoji, as a user would pick it from a picker.

One emoji sequence of at most 16 code points: a pictograph (with an optional presentation selector
and skin tone), a flag (two regional indicators, or a black flag with tag characters), a keycap,
or such pieces joined by ZERO WIDTH JOINER (👩‍💻, 🏳️‍🌈). Text, two emoji, or loose modifiers are not.
"""

from __future__ import annotations

from typing import Any

from server.domain.errors import Invalid

MAX_CODE_POINTS = 16
ZWJ, VS15, VS16, KEYCAP, CANCEL_TAG = 0x200D, 0xFE0E, 0xFE0F, 0x20E3, 0xE007F
# Extended_Pictographic, closely enough: the blocks emoji come from (no Unicode table in the stdlib).
_PICTOGRAPHIC = (
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2194, 0x21AA),
    (0x231A, 0x23FF),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25FE),
    (0x2600, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x1F000, 0x1F1E5),
    (0x1F200, 0x1F3FA),
    (0x1F400, 0x1FAFF),
    (0x1FC00, 0x1FFFD),
)


def _pictograph(cp: int) -> bool:
    return any(low <= cp <= high for low, high in _PICTOGRAPHIC)


def _regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _skin(cp: int) -> bool:
    return 0x1F3FB <= cp <= 0x1F3FF


def _tag(cp: int) -> bool:
    return 0xE0020 <= cp <= 0xE007E


def _element(cps: list[int], i: int) -> int:
    """The end of the emoji element starting at i, or -1 if none starts there."""
    n = len(cps)
    cp = cps[i]
    if _regional(cp):
        return i + 2 if i + 1 < n and _regional(cps[i + 1]) else -1
    if chr(cp) in "0123456789#*":
        j = i + 1 + (i + 1 < n and cps[i + 1] == VS16)
        return j + 1 if j < n and cps[j] == KEYCAP else -1
    if not _pictograph(cp):
        return -1
    j = i + 1
    if j < n and cps[j] in (VS15, VS16):
        j += 1
    if j < n and _skin(cps[j]):
        j += 1
    if j < n and _tag(cps[j]):  # a subdivision flag: 🏴 + tags + CANCEL TAG
        while j < n and _tag(cps[j]):
            j += 1
        return j + 1 if j < n and cps[j] == CANCEL_TAG else -1
    return j


def check_emoji(value: Any) -> str:
    """One emoji sequence (see the module), or InvalidEmoji."""
    cps = [ord(c) for c in value] if isinstance(value, str) else []
    if not cps or len(cps) > MAX_CODE_POINTS:
        raise Invalid("InvalidEmoji", f"a reaction is one emoji of at most {MAX_CODE_POINTS} code points")
    i = 0
    while True:
        i = _element(cps, i)
        if i < 0:
            raise Invalid("InvalidEmoji", "a reaction is one emoji")
        if i == len(cps):
            return str(value)
        if cps[i] != ZWJ or i + 1 == len(cps):
            raise Invalid("InvalidEmoji", "a reaction is one emoji")
        i += 1
