"""What the client writes to a terminal, captured and checked.

`capture()` runs apps under a driver that is the test driver in every way but one: it says it
is not headless, so Textual renders every frame to terminal bytes and the app writes its
bell and desktop notifications, all collected in `Terminal.written`. Every strip drawn is
also checked before it is encoded: a text segment holding a control character is a leak.
`Terminal.problems()` then reads the bytes as a terminal would and lists every escape
sequence that is not one Textual itself draws with, and every OSC payload that is unclean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import textual.drivers.headless_driver as headless
from rich.console import Console
from textual.strip import Strip

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What Textual writes: colours and attributes, cursor moves, synchronized output, the cursor,
# and the mouse pointer's shape (OSC 22). Nothing else may reach the terminal.
TEXTUAL_CSI = re.compile(r"\x1b\[(?:[0-9;:]*m|\d+;\d+H|\?2026[hl]|\?25[hl]|\?1004[hl])")
OSC = re.compile(r"\x1b\](\d+);([^\x07\x1b]*)(?:\x07|\x1b\\)")
POINTER = re.compile(r"[a-z-]+")


class Terminal:
    """Bytes written to the terminal and control characters found in drawn text."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.leaks: list[str] = []  # text segments that held a control character

    @property
    def output(self) -> str:
        """Everything written, in order."""
        return "".join(self.written)

    def notifications(self) -> list[tuple[str, str]]:
        """The desktop notifications written (OSC 777 title and body)."""
        found = []
        for number, payload in OSC.findall(self.output):
            if number == "777":
                _, title, body = payload.split(";", 2)
                found.append((title, body))
        return found

    def problems(self) -> list[str]:
        """Everything a terminal would act on that Textual did not mean (empty: safe)."""
        out = self.output
        problems = [f"control character in drawn text: {leak!r}" for leak in self.leaks]
        at = 0
        while at < len(out):
            ch = out[at]
            if ch == "\x1b":
                csi = TEXTUAL_CSI.match(out, at)
                osc = OSC.match(out, at)
                if csi:
                    at = csi.end()
                    continue
                if osc:
                    problem = _osc_problem(osc.group(1), osc.group(2))
                    if problem:
                        problems.append(problem)
                    at = osc.end()
                    continue
                problems.append(f"escape sequence Textual does not write: {out[at : at + 24]!r}")
            elif ch not in "\n\x07" and CONTROL.match(ch):  # BEL alone is the bell
                problems.append(f"control character {ch!r} in {out[max(0, at - 12) : at + 12]!r}")
            at += 1
        return problems


def _osc_problem(number: str, payload: str) -> str | None:
    """An OSC the client writes on purpose, with a clean payload; anything else is a problem."""
    if number == "22" and POINTER.fullmatch(payload):
        return None  # the mouse pointer's shape
    if number in ("777", "9") and not CONTROL.search(payload):
        fields = payload.split(";")
        if number == "9" or (len(fields) == 3 and fields[0] == "notify"):
            return None  # our desktop notification, its text through the door
    return f"OSC {number} with {payload[:40]!r}"


@contextmanager
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    """Apps started with run_test() inside this block write to the returned Terminal."""
    terminal = Terminal()

    class TerminalDriver(headless.HeadlessDriver):
        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            terminal.written.append(data)

    render = Strip.render

    def checked_render(self: Strip, console: Console) -> Any:
        for segment in self:
            if not segment.control and CONTROL.search(segment.text):
                terminal.leaks.append(segment.text)
        return render(self, console)

    monkeypatch.setattr(headless, "HeadlessDriver", TerminalDriver)
    monkeypatch.setattr(Strip, "render", checked_render)
    yield terminal
