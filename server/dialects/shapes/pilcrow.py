"""The pilcrow dialect's answers: boot, channels, invitations (errors are text for a person)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from server.dialects.shapes.common import (
    CLOSED,
    EVENT_STREAM,
    Errors,
    Handle,
    MessageId,
    PreciseTime,
    Responses,
    Status,
    Uuid,
    V2Ooo,
    header,
    responses,
)

__all__ = ["EVENT_STREAM"]


@with_config(CLOSED)
class PilcrowUser(TypedDict):
    """pilcrow's user: id and name are the handle."""

    id: Handle
    name: Handle


class BootUser(TypedDict):
    """A user in boot, with presence."""

    id: Handle
    name: Handle
    display_name: str
    status: Status
    last_seen: PreciseTime | None
    team: str | None
    ooo: V2Ooo | None


class BootChannel(TypedDict):
    """A channel in boot, with the caller's unread messages there and how many mention them."""

    at: PreciseTime
    name: str
    id: str
    unread: int
    mentions: int


class BootMessage(TypedDict):
    """A message in boot, addressed like its `message sent` event."""

    at: PreciseTime
    sender: Handle
    id: MessageId
    channel: NotRequired[str]
    to: NotRequired[Handle]
    read_at: NotRequired[PreciseTime | None]
    convo: NotRequired[int]
    stream: NotRequired[Uuid]
    body: str
    parent: MessageId | None
    # Only when set: the message it answers (as `parent`), when it was last edited, its reactions.
    reply_to: NotRequired[MessageId]
    edited_at: NotRequired[PreciseTime]
    reactions: NotRequired[dict[str, list[Handle]]]
    # Only in boot, only when true: `body` is the start of a longer one (GET /api/v2/messages/{id}).
    truncated: NotRequired[Literal[True]]


class Boot(TypedDict):
    """Who I am, a snapshot, and the resume point of the event stream just after it."""

    user: PilcrowUser
    resume_point: int
    heartbeat: int
    away_after: int
    ring_timeout: int
    users: list[BootUser]
    channels: list[BootChannel]
    boot_window: int
    unread: dict[Handle, int]
    messages: list[BootMessage]


@with_config(CLOSED)
class PilcrowChannelHistory(TypedDict):
    """Older messages of a channel, ascending, in the boot shape."""

    messages: list[BootMessage]
    total: int
    next_before: MessageId | None


@with_config(CLOSED)
class PilcrowChannel(TypedDict):
    """A new channel."""

    id: str
    name: str


@with_config(CLOSED)
class PilcrowChannelMessage(TypedDict):
    """A message posted to a channel."""

    at: PreciseTime
    channel: str
    sender: Handle
    id: MessageId
    body: str


@with_config(CLOSED)
class PilcrowInvite(TypedDict):
    """A new invitation."""

    id: str
    issuer: Handle
    issued_at: PreciseTime


@with_config(CLOSED)
class PilcrowInvitation(TypedDict):
    """An invitation as the invited person sees it."""

    id: str
    issuer: PilcrowUser
    issued_at: PreciseTime


ERRORS = Errors(content={"text/plain": {"schema": {"type": "string", "description": "Meant for a person."}}})


def pilcrow(
    ok: Any = None, *errors: int, status: int = 200, description: str = "Done.", cookie: bool = False
) -> Responses:
    """A pilcrow route (`cookie`: the answer sets the `identity` cookie)."""
    headers = {"Set-Cookie": header("`identity=<token>; HttpOnly; SameSite=strict; Path=/`")} if cookie else None
    return responses(ERRORS, ok, errors, status=status, description=description, headers=headers)
