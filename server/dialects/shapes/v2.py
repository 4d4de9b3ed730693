"""The v2 dialect's answers."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from server.dialects.shapes.common import (
    CLOSED,
    CallId,
    Errors,
    Handle,
    MessageId,
    Responses,
    Status,
    Uuid,
    V2Ooo,
    V2Time,
    closed,
    responses,
)


@with_config(CLOSED)
class V2Group(TypedDict):
    """A team or workspace the user belongs to."""

    id: int
    name: str


@with_config(CLOSED)
class V2Status(TypedDict):
    """A user's status and last_seen (null when hidden from the caller, or never seen)."""

    user: Handle
    status: Status
    last_seen: V2Time | None
    display_name: str
    team: str | None
    ooo: V2Ooo | None
    updated_by: NotRequired[Handle]
    updated_at: NotRequired[V2Time]


@with_config(CLOSED)
class V2User(V2Status):
    """The status object plus id, memberships and role; `hide_last_seen` only for yourself."""

    id: int
    teams: list[V2Group]
    workspaces: list[V2Group]
    role: Literal["member", "admin"]
    hide_last_seen: NotRequired[bool]


@with_config(CLOSED)
class V2Health(TypedDict):
    """The process answers and has just read its database: the newest event id there."""

    status: Literal["ok"]
    resume_point: int


@with_config(CLOSED)
class V2Login(TypedDict):
    """A bearer token and who it signs in."""

    token: str
    user: V2User


@with_config(CLOSED)
class V2Directory(TypedDict):
    """Everyone."""

    users: list[V2User]
    total: int


@with_config(CLOSED)
class V2Sent(TypedDict):
    """A DM was stored (or, for an Idempotency-Key retry, had been)."""

    message_id: MessageId
    status: Literal["delivered"]
    timestamp: V2Time


V2Message = TypedDict(
    "V2Message",
    {
        "message_id": MessageId,
        "from": Handle,
        "to": NotRequired[Handle],
        "channel": NotRequired[str],
        "stream": NotRequired[Uuid],
        "body": str,
        "timestamp": V2Time,
        "status": Literal["delivered", "read"],
        "read_at": V2Time | None,
        "edited_at": V2Time | None,
        "reply_to": MessageId | None,
        "reactions": dict[str, list[Handle]],
    },
)
closed(
    V2Message,
    "A message: `to` for a DM or convo message, `channel` or `stream` for the others; `reactions` maps"
    " each emoji to the handles that reacted with it, in order.",
)


@with_config(CLOSED)
class V2SentItem(TypedDict):
    """An item of `?to=`: what became of a message I sent."""

    message_id: MessageId
    body: str
    status: Literal["delivered", "read"]
    read_at: V2Time | None


V2ReceivedItem = TypedDict(
    "V2ReceivedItem", {"message_id": MessageId, "from": Handle, "body": str, "timestamp": V2Time}
)
closed(V2ReceivedItem, "An item of `?from=`: a message someone sent me.")


@with_config(CLOSED)
class V2History(TypedDict):
    """A page of DMs, oldest first; items of `?to=` and `?from=` keep the story's shapes."""

    messages: list[V2Message | V2SentItem | V2ReceivedItem]
    total: int
    next_before: MessageId | None


@with_config(CLOSED)
class V2Read(TypedDict):
    """A read receipt."""

    message_id: MessageId
    status: Literal["read"]
    read_at: V2Time | None


V2Conversation = TypedDict("V2Conversation", {"with": Handle, "unread": int, "last_message": V2Message | None})
closed(V2Conversation, "One DM partner with the unread count.")


@with_config(CLOSED)
class V2Conversations(TypedDict):
    """One row per DM partner, newest first."""

    conversations: list[V2Conversation]


V2Call = TypedDict(
    "V2Call",
    {
        "call_id": CallId,
        "from": Handle,
        "to": Handle,
        "type": Literal["audio", "video"],
        "status": Literal["ringing", "answered", "declined", "no_answer", "cancelled", "ended"],
        "started_at": V2Time,
        "ended_at": V2Time | None,
        "duration_seconds": int | None,
    },
)
closed(V2Call, "A call (signalling only).")


@with_config(CLOSED)
class V2Calls(TypedDict):
    """Calls, newest first."""

    calls: list[V2Call]
    total: int


@with_config(CLOSED)
class V2Reactions(TypedDict):
    """A message's reactions after a change: emoji -> handles, in the order they reacted."""

    message_id: MessageId
    reactions: dict[str, list[Handle]]


V2Found = TypedDict(
    "V2Found",
    {
        "message_id": MessageId,
        "from": Handle,
        "to": NotRequired[Handle],
        "channel": NotRequired[str],
        "convo": NotRequired[int],
        "stream": NotRequired[Uuid],
        "timestamp": V2Time,
        "excerpt": str,
        "matches": list[list[int]],
    },
)
closed(V2Found, "A message found: where it is, an excerpt around the first match, the matches' [start, end) in it.")


@with_config(CLOSED)
class V2Search(TypedDict):
    """Matches, newest first; `total` counts every match; `next_before` pages on."""

    messages: list[V2Found]
    total: int
    next_before: MessageId | None


@with_config(CLOSED)
class V2ErrorBody(TypedDict):
    """What went wrong: a code (`UserNotFound`) and a sentence."""

    code: str
    message: str


@with_config(CLOSED)
class V2Error(TypedDict):
    """The v2 error shape (also for paths outside every dialect)."""

    error: V2ErrorBody


ERRORS = Errors(model=V2Error)


def v2(ok: Any = None, *errors: int, status: int = 200, description: str = "Done.") -> Responses:
    """A v2 route."""
    return responses(ERRORS, ok, errors, status=status, description=description)
