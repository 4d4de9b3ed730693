"""The ESN dialect's answers."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from server.dialects.shapes.common import (
    CLOSED,
    Errors,
    Handle,
    MessageId,
    MillisTime,
    Responses,
    Uuid,
    responses,
)


@with_config(CLOSED)
class EsnTimestamps(TypedDict):
    """Milliseconds since the epoch."""

    creation: int


@with_config(CLOSED)
class EsnPlace(TypedDict):
    """Where a message lives: its activity stream, or (read by id) its channel, convo or DM partner."""

    objectType: Literal["activitystream", "channel", "convo", "user"]
    id: str


@with_config(CLOSED)
class EsnRef(TypedDict):
    """A message or stream named by `_id`."""

    objectType: str
    _id: str


@with_config(CLOSED)
class EsnAttachment(TypedDict):
    """A file attached to a post (metadata only); mailed attachments have no `_id`."""

    _id: NotRequired[str]
    name: str
    contentType: str
    length: int | None


@with_config(CLOSED)
class EsnParser(TypedDict):
    """A parser the client applies to the text."""

    name: str


@with_config(CLOSED)
class EsnShare(TypedDict):
    """A copy of the message in another stream."""

    objectType: Literal["activitystream"]
    id: Uuid
    _id: MessageId


@with_config(CLOSED)
class EsnStreamRef(TypedDict):
    """A stream named by `id`."""

    objectType: Literal["activitystream"]
    id: Uuid


@with_config(CLOSED)
class EsnCopyOf(TypedDict):
    """The message a share copies, and the stream it came from."""

    _id: MessageId
    resource: EsnStreamRef


@with_config(CLOSED)
class EsnMessage(TypedDict):
    """A message: the reference's fields plus its stream, thread, files and shares."""

    objectType: str
    _id: MessageId
    description: str
    creator: Handle
    timestamps: EsnTimestamps
    target: list[EsnPlace]
    inReplyTo: NotRequired[EsnRef]
    parentId: NotRequired[MessageId]
    responses: list[MessageId]
    attachments: list[EsnAttachment]
    parsers: list[EsnParser]
    shares: list[EsnShare]
    copyOf: NotRequired[EsnCopyOf]
    data: NotRequired[dict[str, Any]]
    email: NotRequired[dict[str, str]]


@with_config(CLOSED)
class EsnCreated(TypedDict):
    """The new message's `_id` (and `parentId` for a reply)."""

    _id: MessageId
    parentId: NotRequired[MessageId]


@with_config(CLOSED)
class EsnStream(TypedDict):
    """An activity stream the caller may read, and the team or workspace owning it."""

    uuid: Uuid
    objectType: Literal["team", "workspace"]
    id: int
    name: str


@with_config(CLOSED)
class EsnActor(TypedDict):
    """Who posted or shared."""

    objectType: Literal["user"]
    _id: Handle
    displayName: str


@with_config(CLOSED)
class EsnActivity(TypedDict):
    """One activity of a stream."""

    _id: MessageId
    verb: Literal["post", "share"]
    published: MillisTime
    actor: EsnActor
    object: EsnMessage
    target: list[EsnRef]
    inReplyTo: NotRequired[list[EsnRef]]


@with_config(CLOSED)
class EsnErrorBody(TypedDict):
    """`code` and `status` are both the HTTP status, `message` its phrase."""

    code: int
    status: int
    message: str
    details: str


@with_config(CLOSED)
class EsnError(TypedDict):
    """The ESN error shape (also the descriptor of a message not found by `ids[]`)."""

    error: EsnErrorBody


ERRORS = Errors(model=EsnError)


def esn(
    ok: Any = None,
    *errors: int,
    status: int = 200,
    description: str = "Done.",
    headers: dict[str, Any] | None = None,
) -> Responses:
    """An ESN route."""
    return responses(ERRORS, ok, errors, status=status, description=description, headers=headers)
