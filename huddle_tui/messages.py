"""App-wide messages: workers post these; the app and screens handle them."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class StreamEvent(Message):
    """One event from the live stream."""

    def __init__(self, event_id: int | None, data: dict[str, Any]) -> None:
        super().__init__()
        self.event_id = event_id
        self.data = data


class ConnectionChanged(Message):
    """The event stream's state: live | connecting | reconnecting | stopped | offline."""

    def __init__(self, state: str, detail: str = "") -> None:
        super().__init__()
        self.state = state
        self.detail = detail


class Booted(Message):
    """A fresh snapshot is in the state."""


class HistoryLoaded(Message):
    """Older messages of a chat arrived."""

    def __init__(self, key: str, added: int) -> None:
        super().__init__()
        self.key = key
        self.added = added
