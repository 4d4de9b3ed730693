"""What the client knows, as typed records: people, chats, messages, calls, OOO entries and
the events that change them. `wire.py` makes these from the server's answers; nothing past it
reads a wire dict. No Textual here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from huddle_tui import untrusted

CallStatus = Literal["ringing", "answered", "declined", "no_answer", "cancelled", "ended"]
CALL_STATUSES: tuple[CallStatus, ...] = ("ringing", "answered", "declined", "no_answer", "cancelled", "ended")
CallType = Literal["audio", "video"]
CallAction = Literal["answer", "decline", "end"]


@dataclass(frozen=True, slots=True)
class ChatKey:
    """A conversation: the DM with someone (by handle) or a channel (by id)."""

    kind: Literal["dm", "channel"]
    id: str

    @classmethod
    def dm(cls, handle: str) -> ChatKey:
        """The DM with this person."""
        return cls("dm", handle)

    @classmethod
    def channel(cls, channel_id: str) -> ChatKey:
        """This channel."""
        return cls("channel", channel_id)

    @property
    def is_channel(self) -> bool:
        """A channel, not a DM."""
        return self.kind == "channel"

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> ChatKey | None:
        """The key `str(key)` wrote (option ids, the outbox file), or None."""
        kind, _, ident = text.partition(":")
        if kind in ("dm", "channel") and ident:
            return cls(kind, ident)  # type: ignore[arg-type]
        return None


@dataclass(slots=True)
class OooEntry:
    """An out-of-office entry (someone's current one, or one of mine in the form)."""

    id: int
    message: str = ""
    start: datetime | None = None
    end: datetime | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class OooDraft:
    """An OOO entry as the form makes it, to create or change one."""

    active: bool
    start: datetime | None
    end: datetime | None
    message: str


@dataclass(slots=True)
class Contact:
    """A teammate as this user sees them."""

    handle: str
    display_name: str
    status: str = "away"
    last_seen: datetime | None = None
    team: str | None = None
    ooo: OooEntry | None = None
    unread: int = 0

    @property
    def name(self) -> str:
        """What to call them, fit to show (through the door for other people's text)."""
        return untrusted.name(self.display_name or self.handle)

    @property
    def shown_handle(self) -> str:
        """Their handle, fit to show."""
        return untrusted.name(self.handle)


@dataclass(slots=True)
class ChatMessage:
    """One message of a conversation."""

    id: str
    sender: str
    body: str
    at: datetime
    to: str | None = None
    channel: str | None = None
    read_at: datetime | None = None
    pending: bool = False  # typed offline, waiting in the outbox
    truncated: bool = False  # boot sent only the start of a long body; the whole one is fetched by id
    edited_at: datetime | None = None
    reply_to: str | None = None  # the id of the message this one answers
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> handles, in order

    def chat_key(self, me: str) -> ChatKey:
        """The conversation it belongs to."""
        if self.channel:
            return ChatKey.channel(self.channel)
        return ChatKey.dm((self.to or "") if self.sender == me else self.sender)


@dataclass(slots=True)
class CallRecord:
    """A call this user took part in."""

    call_id: str
    caller: str
    callee: str
    type: CallType
    status: CallStatus
    started_at: datetime | None
    ended_at: datetime | None = None
    duration: int = 0
    seen: bool = True
    answered_at: datetime | None = None  # when the answer was announced (the live call's clock)


@dataclass(frozen=True, slots=True)
class Channel:
    """A public channel."""

    id: str
    name: str


@dataclass(slots=True)
class Boot:
    """A snapshot: who I am, everyone, the channels, recent messages, and where the stream resumes."""

    me: str
    resume_point: int
    heartbeat: int = 30
    away_after: int = 300
    ring_timeout: int = 30
    boot_window: int = 0
    contacts: list[Contact] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    messages: list[ChatMessage] = field(default_factory=list)
    unread: dict[str, int] = field(default_factory=dict)  # DMs, by partner
    channel_unread: dict[str, tuple[int, int]] = field(default_factory=dict)  # (unread, mentions) by channel id


@dataclass(slots=True)
class HistoryPage:
    """Older messages of a chat, and where to page on (None: the start was reached)."""

    messages: list[ChatMessage]
    next_before: str | None


@dataclass(frozen=True, slots=True)
class Found:
    """A search result: where, who, when, and an excerpt with where the words matched."""

    id: str
    chat: ChatKey | None  # None: a conversation this client does not show (a convo, a stream)
    sender: str
    at: datetime
    excerpt: str
    matches: tuple[tuple[int, int], ...]


@dataclass(slots=True)
class SearchPage:
    """Results newest first, how many match in all, and where to page on."""

    found: list[Found]
    total: int
    next_before: str | None


@dataclass(slots=True)
class Profile:
    """My own settings as the server keeps them."""

    handle: str
    display_name: str
    hide_last_seen: bool


# ---- events ------------------------------------------------------------------------------
@dataclass(slots=True)
class PresenceChanged:
    """Someone's status, last seen, OOO or name changed."""

    user: str
    status: str | None
    last_seen: datetime | None
    ooo: OooEntry | None
    display_name: str | None


@dataclass(slots=True)
class UserCreated:
    """Someone joined."""

    handle: str
    name: str


@dataclass(slots=True)
class MessageSent:
    """A message in a DM or channel I can see."""

    message: ChatMessage


@dataclass(slots=True)
class MessageRead:
    """A reader read up to a message."""

    id: str
    reader: str
    read_at: datetime | None


@dataclass(slots=True)
class MessageUpdated:
    """A message was edited."""

    id: str
    body: str
    edited_at: datetime | None


@dataclass(slots=True)
class ReactionChanged:
    """Someone added or took back a reaction."""

    id: str
    emoji: str
    user: str
    added: bool


@dataclass(slots=True)
class Typing:
    """Someone is typing in a chat I can see (not stored, not replayed)."""

    user: str
    chat: ChatKey


@dataclass(slots=True)
class MessageDeleted:
    """A message went."""

    id: str


@dataclass(slots=True)
class ChannelCreated:
    """A new channel."""

    channel: Channel


@dataclass(slots=True)
class ChannelDeleted:
    """A channel went."""

    id: str


@dataclass(slots=True)
class CallChanged:
    """A call I take part in rang, was answered, declined, missed, cancelled or ended."""

    call: CallRecord


@dataclass(slots=True)
class OooChanged:
    """Someone's OOO entries changed (the presence event carries the one active now)."""

    user: str


@dataclass(slots=True)
class Other:
    """An event this client does not show (convos, streams, kinds from a newer server)."""

    type: str
    event: str


Event = (
    PresenceChanged
    | UserCreated
    | MessageSent
    | MessageRead
    | MessageDeleted
    | MessageUpdated
    | ReactionChanged
    | Typing
    | ChannelCreated
    | ChannelDeleted
    | CallChanged
    | OooChanged
    | Other
)
