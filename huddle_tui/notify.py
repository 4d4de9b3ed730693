"""Alerts that reach a person: the bell, and desktop notifications (OSC 9/777 or notify-send)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from huddle_tui import untrusted


def osc_sequences(title: str, body: str) -> str:
    """OSC 777 (rxvt, foot, kitty, WezTerm, VTE) and OSC 9 (iTerm2, Windows Terminal, kitty).

    Both texts go through the door: no control byte (ESC, BEL, 8-bit ST or CSI, CAN, SUB, CR,
    LF) can close the sequence early and drive the terminal, no `;` can add a field."""
    clean_title, clean_body = untrusted.notification(title, limit=40), untrusted.notification(body)
    return f"\x1b]777;notify;{clean_title};{clean_body}\x07\x1b]9;{clean_title}: {clean_body}\x07"


class Notifier:
    """Sends desktop notifications the configured way; `write` puts text on the terminal."""

    def __init__(self, method: str, write: Callable[[str], None]) -> None:
        self.method = method
        self.write = write
        self.sent: list[tuple[str, str]] = []

    def desktop(self, title: str, body: str) -> None:
        """A desktop notification (nothing for `bell` and `off`)."""
        self.sent.append((title, body))
        if self.method == "osc":
            self.write(osc_sequences(title, body))
        elif self.method == "notify-send" and shutil.which("notify-send"):
            # "--" ends the options: a body starting with "-" is not read as one.
            subprocess.Popen(
                ["notify-send", "--app-name=Huddle", "--", untrusted.notification(title), untrusted.notification(body)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
