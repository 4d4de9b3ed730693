"""Alerts that reach a person: the bell, and desktop notifications (OSC 9/777 or notify-send)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable


def osc_sequences(title: str, body: str) -> str:
    """OSC 777 (rxvt, foot, kitty, WezTerm, VTE) and OSC 9 (iTerm2, Windows Terminal, kitty)."""
    clean_title = title.replace("\x07", "").replace("\x1b", "").replace(";", ",")
    clean_body = body.replace("\x07", "").replace("\x1b", "")
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
            subprocess.Popen(
                ["notify-send", "--app-name=Huddle", title, body],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
