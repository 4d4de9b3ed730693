"""What the OpenAPI document (`/openapi.json`) says each dialect answers: shapes and statuses.

Documentation only. The routes still build their answers as plain dicts, so what goes on the
wire is unchanged; these TypedDicts are handed to FastAPI as `responses={status: {"model": …}}`,
which only shapes the schema. Routes that return a dict also say `response_model=Any`: that
keeps FastAPI's serializer exactly as before (the inferred `dict[str, Any]` used the same
one) while keeping the inferred schema from being merged into the documented one.

Every object is closed (`additionalProperties: false`), so a field the documentation does not
name fails the schema checks, except the boot snapshot, whose shape is still growing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

Responses = dict[int | str, dict[str, Any]]
CLOSED = ConfigDict(extra="forbid")


def closed(typed_dict: type, doc: str) -> None:
    """Close a TypedDict made by the functional syntax (needed where keys are keywords: `from`)."""
    typed_dict.__doc__ = doc
    typed_dict.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]  # as pydantic.with_config does


# ---- values ---------------------------------------------------------------------------
_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
V2Time = Annotated[str, Field(pattern=_DATE + r"Z$", examples=["2024-03-15T09:14:22Z"])]
PreciseTime = Annotated[str, Field(pattern=_DATE + r"\.\d{6}Z$", examples=["2024-09-27T23:19:10.208147Z"])]
OffsetTime = Annotated[str, Field(pattern=_DATE + r"\+00:00$", examples=["2022-04-19T16:30:29+00:00"])]
PlainTime = Annotated[str, Field(pattern=_DATE + r"$", examples=["2015-06-15T10:04:33"])]
MillisTime = Annotated[str, Field(pattern=_DATE + r"\.\d{3}Z$", examples=["2024-09-27T23:19:10.208Z"])]
MessageId = Annotated[str, Field(pattern=r"^msg_[0-9a-f]{16}$", examples=["msg_8f2b07c1d2e3f405"])]
CallId = Annotated[str, Field(pattern=r"^call_[0-9a-f]{16}$", examples=["call_4c1d2e3f40506172"])]
Handle = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,64}$", examples=["jin.park"])]
Uuid = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Status = Literal["active", "away", "dnd", "medical_leave", "parental_leave", "leave"]
WorkspaceState = Literal["active", "archived", "locked", "deleted"]


# ---- v2 -------------------------------------------------------------------------------
@with_config(CLOSED)
class V2Ooo(TypedDict):
    """The OOO entry active now (null when none, or when the caller may not see it)."""

    id: int
    message: str | None
    startDate: OffsetTime | None
    endDate: OffsetTime | None


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
    },
)
closed(V2Message, "A message: `to` for a DM or convo message, `channel` or `stream` for the others.")


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
class V2ErrorBody(TypedDict):
    """What went wrong: a code (`UserNotFound`) and a sentence."""

    code: str
    message: str


@with_config(CLOSED)
class V2Error(TypedDict):
    """The v2 error shape (also for paths outside every dialect)."""

    error: V2ErrorBody


# ---- Huddle presence ------------------------------------------------------------------
@with_config(CLOSED)
class Link(TypedDict):
    """One `links` element."""

    rel: str
    href: str


@with_config(CLOSED)
class HuddlePresence(TypedDict):
    """A presence (OOO) entity."""

    links: list[Link]
    id: int
    isActive: bool
    startDate: OffsetTime | None
    endDate: OffsetTime | None
    message: str | None


@with_config(CLOSED)
class HuddlePresencePage(TypedDict):
    """A page of presence entities with self/first/previous/next links."""

    links: list[Link]
    presenceEntities: list[HuddlePresence]


@with_config(CLOSED)
class HuddleAudit(TypedDict):
    """What a user did to their entries."""

    auditType: Literal["create", "update", "delete"]
    timeStamp: OffsetTime
    context: str


@with_config(CLOSED)
class HuddleAuditPage(TypedDict):
    """A page of audits."""

    links: list[Link]
    audits: list[HuddleAudit]


@with_config(CLOSED)
class HuddleGroupRef(TypedDict):
    """A team or workspace a user belongs to."""

    id: int
    name: str
    href: str


@with_config(CLOSED)
class HuddleUser(TypedDict):
    """A user as the caller may see them (`lastSeen` null when hidden or never seen)."""

    links: list[Link]
    id: int
    user: Handle
    displayName: str
    status: Status
    lastSeen: OffsetTime | None
    teams: list[HuddleGroupRef]
    workspaces: list[HuddleGroupRef]


@with_config(CLOSED)
class HuddleMember(TypedDict):
    """A member of a team or workspace."""

    id: int
    user: Handle
    displayName: str
    links: list[Link]


@with_config(CLOSED)
class HuddleTeam(TypedDict):
    """A team with its members and its activity stream link."""

    links: list[Link]
    id: int
    name: str
    deleted: bool
    members: list[HuddleMember]


@with_config(CLOSED)
class HuddleWorkspace(TypedDict):
    """A workspace with its state, members and activity stream link."""

    links: list[Link]
    id: int
    name: str
    state: WorkspaceState
    members: list[HuddleMember]


@with_config(CLOSED)
class HuddleSummary(TypedDict):
    """A team or workspace in a list."""

    id: int
    name: str
    links: list[Link]


@with_config(CLOSED)
class HuddleTeams(TypedDict):
    """The teams the caller belongs to (admins: all)."""

    links: list[Link]
    teams: list[HuddleSummary]


@with_config(CLOSED)
class HuddleWorkspaces(TypedDict):
    """The workspaces the caller belongs to (admins: all)."""

    links: list[Link]
    workspaces: list[HuddleSummary]


@with_config(CLOSED)
class HuddleError(TypedDict):
    """The Huddle error shape, with the reference's error codes."""

    statusCode: int
    errorCode: str
    errorMessages: list[str]


# ---- Convos ---------------------------------------------------------------------------
@with_config(CLOSED)
class ConvosConvo(TypedDict):
    """A Convo; nulls are omitted."""

    Id: int
    Creator: int
    Participant: int
    Subject: NotRequired[str]
    DateCreated: PlainTime
    DateUpdated: NotRequired[PlainTime]
    DateOfLastMessage: NotRequired[PlainTime]
    NumMessages: int


@with_config(CLOSED)
class ConvosMessage(TypedDict):
    """A message of a Convo; `Parent` and `Thread` only on replies."""

    Id: MessageId
    ConvoId: int
    Sender: int
    Recipient: int
    Body: str
    IsRead: bool
    Parent: NotRequired[MessageId]
    Thread: NotRequired[MessageId]
    DateCreated: PlainTime


# ---- pilcrow --------------------------------------------------------------------------
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


# ---- ESN ------------------------------------------------------------------------------
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


EVENT_STREAM = {
    "description": "Server-Sent Events: `id:` the event id, `data:` one JSON object with `type` and `event`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

# ---- responses= builders --------------------------------------------------------------
WHY = {
    400: "Bad input: a body, query or path value of the wrong shape, or a value the rules refuse.",
    401: "No credentials, or a token that is unknown, revoked or expired (or a failed sign-in).",
    403: "Signed in, but not allowed to do this.",
    404: "No such thing, or the caller may not see it.",
    409: "The state does not allow it (a name in use, a call no longer ringing…).",
    410: "The resume point is older than the retained event log: boot again.",
    413: "The request body is over the size cap (`--max-body-bytes`).",
    422: "A body of the wrong shape.",
    429: "Rate limited (`--login-rate`, `--send-rate`, `--max-streams-per-user`); see Retry-After.",
    "4XX": "Another client error (405, 413…) in this dialect's error shape (docs/API.md §3).",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}, "required": True}
}
RESULT_CODES = {200: [0], 201: [5], 204: [6], 400: [1], 401: [4], 404: [2, 3], 405: [1], 409: [1], 413: [1], 429: [1]}
ERROR_MODELS: dict[str, Any] = {"v2": V2Error, "huddle": HuddleError, "esn": EsnError}


def header(description: str, *, required: bool = True, type_: str = "string", **schema: Any) -> dict[str, Any]:
    """A documented response header."""
    return {"description": description, "schema": {"type": type_, **schema}, "required": required}


def convos_headers(status: int | str, more: dict[str, Any]) -> dict[str, Any]:
    """`X-Result-Code` and `X-Message`, sent on every Convos response, plus `more`."""
    codes = RESULT_CODES.get(status, [0, 1, 2, 3, 4, 5, 6]) if isinstance(status, int) else [1, 2, 3, 4]
    return {
        "X-Result-Code": header("The Convos result code.", enum=[str(c) for c in codes]),
        "X-Message": header("The result in words (Latin-1, at most 500 characters)."),
        **more,
    }


def _error(dialect: str, status: int | str) -> dict[str, Any]:
    """How one dialect answers one error status."""
    out: dict[str, Any] = {"description": WHY.get(status, "An error.")}
    if dialect in ERROR_MODELS:
        out["model"] = ERROR_MODELS[dialect]
    elif dialect == "pilcrow":
        out["content"] = {"text/plain": {"schema": {"type": "string", "description": "Meant for a person."}}}
    headers = RETRY_AFTER if status == 429 else {}
    if dialect == "convos":
        headers = convos_headers(status, headers)
    if headers:
        out["headers"] = headers
    return out


def responses(
    dialect: str,
    ok: Any = None,
    errors: Iterable[int] = (),
    *,
    status: int = 200,
    description: str = "Done.",
    headers: dict[str, Any] | None = None,
) -> Responses:
    """`responses=` for a route: its success (`ok` the body's type, None for no body) and its errors.

    Every route also documents `4XX` in its dialect's error shape, for the statuses any route
    may answer (a body over the cap, a wrong method), which also stops FastAPI from listing a
    422 validation error that no dialect but pilcrow ever sends.
    """
    success: dict[str, Any] = {"description": description}
    if ok is not None:
        success["model"] = ok
    if dialect == "convos":
        headers = convos_headers(status, headers or {})
    if headers:
        success["headers"] = headers
    out: Responses = {status: success}
    for code in errors:
        out[code] = _error(dialect, code)
    out["4XX"] = _error(dialect, "4XX")
    return out


def v2(ok: Any = None, *errors: int, status: int = 200, description: str = "Done.") -> Responses:
    """A v2 route."""
    return responses("v2", ok, errors, status=status, description=description)


def huddle(
    ok: Any = None, *errors: int, status: int = 200, description: str = "Done.", location: bool = False
) -> Responses:
    """A Huddle route (`location`: the answer carries `Content-Location`)."""
    headers = {"Content-Location": header("The entity's URI.")} if location else None
    return responses("huddle", ok, errors, status=status, description=description, headers=headers)


def pilcrow(
    ok: Any = None, *errors: int, status: int = 200, description: str = "Done.", cookie: bool = False
) -> Responses:
    """A pilcrow route (`cookie`: the answer sets the `identity` cookie)."""
    headers = {"Set-Cookie": header("`identity=<token>; HttpOnly; SameSite=strict; Path=/`")} if cookie else None
    return responses("pilcrow", ok, errors, status=status, description=description, headers=headers)


def esn(
    ok: Any = None,
    *errors: int,
    status: int = 200,
    description: str = "Done.",
    headers: dict[str, Any] | None = None,
) -> Responses:
    """An ESN route."""
    return responses("esn", ok, errors, status=status, description=description, headers=headers)


def convos(
    ok: Any = None,
    *errors: int,
    status: int = 200,
    description: str = "Done.",
    headers: dict[str, Any] | None = None,
) -> Responses:
    """A Convos route: no body on errors, `X-Result-Code` and `X-Message` on everything."""
    return responses("convos", ok, errors, status=status, description=description, headers=headers)


CONVOS_PAGE = {
    "X-Total-Count": header("How many match, on every page.", type_="integer"),
    "X-Response-Count": header("How many are on this page.", type_="integer"),
    "X-Last-Modified": header("The newest change among them (Convos time).", required=False),
    "X-URI-Next-Page": header("The next page's URI, only when there is one.", required=False),
}
CONVOS_CREATED = {"X-URI-Reference": header("The new resource's URI.")}
