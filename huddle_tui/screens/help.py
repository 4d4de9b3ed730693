"""Help: the keys by task, and what each symbol on the screen means."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Finding people",
        [
            ("ctrl+f", "find: type a name, enter opens the first match, ↓ picks"),
            ("↑ ↓ enter", "move in the list, open a chat"),
            ("ctrl+n", "next chat with unread messages (mentions first)"),
            ("ctrl+b", "hide or show the people list"),
            ("tab", "move between the list, the chat and the find box"),
        ],
    ),
    (
        "Talking",
        [
            ("enter", "send"),
            ("ctrl+j", "new line"),
            ("@handle", "mention someone: they are alerted"),
            ("↑", "in an empty composer: edit your last message"),
            ("escape", "from the composer to the messages (or cancel a reply or an edit)"),
            ("ctrl+g", "search old messages"),
        ],
    ),
    (
        "On a message (escape from the composer, ↑ ↓ to pick one)",
        [
            ("r", "reply (the reply quotes it)"),
            ("+", "react"),
            ("e  d", "edit, delete (yours; delete asks first)"),
            ("c  o", "copy it, open its link"),
        ],
    ),
    (
        "Calls",
        [
            ("ctrl+k", "call the highlighted or open person · answer · hang up"),
            ("ctrl+r", "decline a call ringing in"),
            ("ctrl+l", "calls list (enter opens the chat)"),
        ],
    ),
    (
        "You",
        [
            ("ctrl+d", "do not disturb on/off"),
            ("ctrl+o", "your out of office"),
            ("ctrl+w", "watch someone: be told when they are active"),
        ],
    ),
    ("Everything else", [("ctrl+p", "every command"), ("f1", "this help"), ("ctrl+q", "quit")]),
]
SYMBOLS = [
    ("●", "active now"),
    ("◒", "away (seen a while ago)"),
    ("⊘", "do not disturb"),
    ("☂", "on leave"),
    ("○", "offline, or not seen for hours"),
    ("✈ OOO", "out of office"),
    ("⚑", "watched: you are told when they are active"),
    ("@", "a mention of you is unread"),
    ("✓", "delivered"),
    ("✓✓ 15:02", "read, and when"),
    ("⧗", "waiting to be sent (kept on disk, sent once)"),
    ("☎", "calls: ringing, live, missed"),
    ("⚠", "someone you wrote to has not been active for hours"),
    ("stale", "the server is out of reach: presence as last known"),
]


def _table(rows: list[tuple[str, str]], width: int) -> Content:
    return Content("\n").join(
        Content.assemble((left.ljust(width), "bold $accent"), "  ", right) for left, right in rows
    )


class HelpScreen(ModalScreen[None]):
    """Keys by task, then the symbols; escape, f1 or q closes it."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("Huddle — keys and symbols", id="help-title")
            sections = [*KEYS, ("What you see", SYMBOLS)]
            text = Content("\n\n").join(
                Content.assemble((title, "bold underline"), "\n", _table(rows, 10)) for title, rows in sections
            )
            yield Static(text, id="help-text")
            yield Static(Content.styled("escape closes", "$text-muted"))

    async def action_dismiss(self, result: None = None) -> None:
        """Close."""
        self.dismiss(result)
