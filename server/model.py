"""Plain records of the domain: no logic, no I/O.

Times are integers: microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AutoStatus = Literal["active", "away"]
StickyStatus = Literal["dnd", "medical_leave", "parental_leave", "leave"]
Status = Literal["active", "away", "dnd", "medical_leave", "parental_leave", "leave"]
Role = Literal["member", "admin"]
WorkspaceState = Literal["active", "archived", "locked", "deleted"]
ConversationKind = Literal["dm", "convo", "channel", "stream"]
CallType = Literal["audio", "video"]
CallStatus = Literal["ringing", "answered", "declined", "no_answer", "cancelled", "ended"]
LEAVE_STATUSES = ("medical_leave", "parental_leave", "leave")
CALL_TYPES = ("audio", "video")
# The largest id (and offset) a store holds: SQLite's INTEGER is a signed 64-bit number.
MAX_PK = 2**63 - 1


@dataclass(frozen=True, slots=True)
class User:
    """A person who can sign in."""

    pk: int
    handle: str
    display_name: str
    role: Role
    auto_status: AutoStatus
    status_override: StickyStatus | None
    last_seen: int | None
    hide_last_seen: bool
    primary_team_pk: int | None
    status_updated_by: int | None
    status_updated_at: int | None
    created_at: int

    @property
    def status(self) -> Status:
        """The status others see: a sticky one if set, else the automatic one."""
        return self.status_override or self.auto_status

    @property
    def is_admin(self) -> bool:
        """Whether the user administers the server."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Team:
    """A named group of users."""

    pk: int
    name: str
    deleted: bool
    creator_pk: int | None
    created_at: int
    stream_uuid: str


@dataclass(frozen=True, slots=True)
class Workspace:
    """A named group of users with a lifecycle state."""

    pk: int
    name: str
    state: WorkspaceState
    creator_pk: int | None
    created_at: int
    stream_uuid: str


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where messages live: a dm, a convo, a channel or a stream."""

    pk: int
    kind: ConversationKind
    public_id: str | None
    user_a: int | None
    user_b: int | None
    name: str | None
    subject: str | None
    creator_pk: int | None
    created_at: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class ConvoSummary:
    """A convo with what its listing shows: when it last changed, its newest live message, how many live ones."""

    conversation: Conversation
    updated_at: int
    last_message_at: int | None
    num_messages: int


@dataclass(frozen=True, slots=True)
class Message:
    """One message in one conversation."""

    pk: int
    public_id: str
    conversation_pk: int
    sender_pk: int
    recipient_pk: int | None
    body: str
    parent_pk: int | None
    created_at: int
    read_at: int | None
    deleted: bool
    attachments: list[dict[str, Any]] | None = None
    edited_at: int | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """A call's signalling state (no media is carried)."""

    pk: int
    public_id: str
    caller_pk: int
    callee_pk: int
    type: CallType
    status: CallStatus
    started_at: int
    answered_at: int | None
    ended_at: int | None

    @property
    def duration_seconds(self) -> int:
        """Seconds between answer and end; 0 when never answered."""
        if self.answered_at is None or self.ended_at is None:
            return 0
        return max(0, (self.ended_at - self.answered_at) // 1_000_000)


@dataclass(frozen=True, slots=True)
class OooEntry:
    """An out-of-office entry (the Huddle "presence entity")."""

    pk: int
    user_pk: int
    is_active: bool
    start_date: int | None
    end_date: int | None
    message: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class Variant:
    """One rendering of an event and who receives it (None = everyone)."""

    audience: frozenset[int] | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log."""

    id: int
    at: int
    variants: tuple[Variant, ...] = field(default_factory=tuple)

    def for_viewer(self, viewer_pk: int) -> int | None:
        """Index of the first variant addressed to the viewer, or None."""
        for index, variant in enumerate(self.variants):
            if variant.audience is None or viewer_pk in variant.audience:
                return index
        return None
