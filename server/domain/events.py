"""What happened, as the domain tells it: one record per kind of event, and the log they are written to.

The domain decides what each event says to whom (one record per audience); how it reads on the
event stream is the dialects' business (server.dialects.events renders them). The log keeps each
event as it is sent, rendered once when it is written with its change: a replay is the same bytes
as the live stream, and logs written before this module replay unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from server.domain.views import CallView, MessageView
from server.model import OooEntry, User, Variant
from server.store.base import WriteTx

# Who receives an event: these users, or everyone (None).
Receivers = frozenset[int] | None
Change = Literal["created", "updated", "deleted"]


@dataclass(frozen=True, slots=True)
class UserCreated:
    """A user was created."""

    at: int
    handle: str


@dataclass(frozen=True, slots=True)
class ChannelChanged:
    """A channel was created or deleted."""

    at: int
    change: Literal["created", "deleted"]
    public_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class MessageSent:
    """A message was sent (to a DM, a convo, a channel or a stream)."""

    at: int
    view: MessageView


@dataclass(frozen=True, slots=True)
class MessageRead:
    """A reader read a message (and, in a DM, the unread ones before it); `channel` for a channel's marker."""

    at: int
    message_id: str
    reader: str
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """A message was deleted."""

    at: int
    message_id: str


@dataclass(frozen=True, slots=True)
class MessageEdited:
    """A message's body changed (at `at`, its edited_at)."""

    at: int
    message_id: str
    body: str


@dataclass(frozen=True, slots=True)
class ReactionChanged:
    """Someone added or took back a reaction."""

    at: int
    message_id: str
    emoji: str
    user: str
    added: bool


@dataclass(frozen=True, slots=True)
class Typing:
    """Someone is typing to a user (`to`) or in a channel: ephemeral, never stored."""

    at: int
    user: str
    to: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A user's presence as one audience sees it: `last_seen` and `ooo` None where hidden from it."""

    at: int
    user: User
    last_seen: int | None
    ooo: OooEntry | None


@dataclass(frozen=True, slots=True)
class CallChanged:
    """A call rang, or changed state."""

    at: int
    view: CallView


@dataclass(frozen=True, slots=True)
class OooChanged:
    """An out-of-office entry was created, changed or deleted."""

    at: int
    change: Change
    owner: str
    entry: OooEntry


@dataclass(frozen=True, slots=True)
class ConvoChanged:
    """A convo was created, its subject changed, or it was deleted."""

    at: int
    change: Change
    convo_pk: int
    creator: str
    participant: str
    subject: str | None


Happened = (
    UserCreated
    | ChannelChanged
    | MessageSent
    | MessageRead
    | MessageDeleted
    | MessageEdited
    | ReactionChanged
    | Typing
    | PresenceChanged
    | CallChanged
    | OooChanged
    | ConvoChanged
)
# How an event reads on the stream: a JSON object.
Render = Callable[[Happened], dict[str, Any]]


def _carries(happened: Happened) -> str | None:
    """The id of the message whose body an event carries, so deleting it can take the body back."""
    if isinstance(happened, MessageSent):
        return happened.view.message.public_id
    if isinstance(happened, MessageEdited):
        return happened.message_id
    return None


class EventLog:
    """Writes events into a write transaction, each rendered once."""

    def __init__(self, render: Render) -> None:
        self.render = render

    def emit(self, tx: WriteTx, audience: Receivers, happened: Happened) -> None:
        """One event for one audience."""
        tx.emit(happened.at, [Variant(audience, self.render(happened))], _carries(happened))

    def emit_each(self, tx: WriteTx, variants: Sequence[tuple[Receivers, Happened]]) -> None:
        """One event that says different things to different audiences (the first that holds a viewer wins)."""
        at = variants[0][1].at
        tx.emit(at, [Variant(audience, self.render(happened)) for audience, happened in variants])
