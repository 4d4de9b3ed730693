"""What the session tells the UI, in the order things happened. No Textual here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from huddle_tui.records import ChatKey
from huddle_tui.store import Change

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Booted:
    """A fresh snapshot is in the state: everything may have changed."""


@dataclass(frozen=True, slots=True)
class Changed:
    """An event changed the state."""

    change: Change


@dataclass(frozen=True, slots=True)
class Connection:
    """The link: live | connecting | reconnecting | offline | stopped | ⚠ … (detail: seconds to retry)."""

    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SignedOut:
    """The token is gone (revoked, expired, or the user signed out)."""

    why: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell the user (already in words; other people's text is in it raw)."""

    text: str
    severity: Severity = "information"
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class MissedWhileAway:
    """Calls missed while the client was closed, not yet seen."""

    count: int


@dataclass(frozen=True, slots=True)
class ChatUpdated:
    """A chat's messages changed without an event: one sent, refused, or older ones loaded."""

    chat: ChatKey
    older: bool = False


@dataclass(frozen=True, slots=True)
class WatchedActive:
    """Someone I was watching is active now (and no longer watched)."""

    handle: str


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """Something the status bar shows: the outbox's size, missed calls, my call."""


Update = (
    Booted | Changed | Connection | SignedOut | Notice | MissedWhileAway | ChatUpdated | StatusChanged | WatchedActive
)
