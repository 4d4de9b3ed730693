"""The Convos dialect (the Convos reference): two-person conversations with a subject, paged with `X-*` headers.

Shapes follow the Convos source (nonduality345/Convos): PascalCase fields, nulls omitted,
times `2015-06-15T10:04:33` (UTC), users and convos by integer pk, no body on errors,
creates and deletes; `X-Result-Code` and `X-Message` on every response (0 OK 200,
1 INVALID_INPUT_DATA 400, 2 ENTITY_NOT_FOUND 404, 3 NO_RESULTS 404, 4 UNAUTHORIZED 401,
5 CREATED 201, 6 DELETED 204, 7 UNKNOWN 500).

Decisions where the reference is silent or does not fit one store:

- A message's `Id` (and `Parent`, `Thread`) is its public id `msg_<hex>`, the same id the
  other dialects and the event stream use (`GET /api/v2/messages/{Id}` reads a convo
  message); `{mid}` in paths is that id. `ConvoId`, `Sender` and `Recipient` are integers.
- `Parent` is the message replied to (`POST /api/Convo/{id}/Message/{mid}`), `Thread`
  the first message of the reply chain; both are omitted on a message that replies to none.
- Credentials: a bearer token or the `identity` cookie. `X-Authorization`, when sent,
  must equal the token's user pk; it is never trusted alone.
- Visibility: a convo and its messages exist only for its two participants; anyone else
  gets 404 with result code 2, for reads and writes alike. A participant who may not do
  a write gets 401 with result code 4: changing the subject or deleting the convo (its
  creator only), editing a body (its sender only), marking read (its recipient only),
  deleting a message (its sender, or an admin, as in every dialect).
- `before` takes a Convos time (`2015-06-15T10:04:33`, UTC), a date, or an RFC 3339 time
  with an offset; lists hold what was created before it. `X-URI-Next-Page` keeps the same
  `before` and `count` with the next `index`. An empty page is 404 with result code 3.
- `POST /api/Convo` `{"Participant", "Subject"}`, `PATCH /api/Convo/{id}` `{"Subject"}`,
  `POST .../Message` `{"Body", "Recipient"?}` (the other participant; optional),
  `PATCH .../Message/{mid}` `{"Body"?, "IsRead"?}`: unknown fields are refused (400), as
  the source refuses them. `IsRead: true` marks that message and the earlier unread ones
  read (one `message read` event); `IsRead: false` is refused, receipts never move back.
  A body edit is announced as `message updated` (`at, id, body`) to both participants.
- PATCH answers 200 with no body, as the source does; an optional `Idempotency-Key` makes
  a message POST safe to retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.dialects import times
from server.dialects.base import STATUSES, Dialect, retry_headers
from server.dialects.common import domain_dep, header_safe, signed_in
from server.dialects.shapes.common import header
from server.dialects.shapes.convos import CONVOS_CREATED, CONVOS_PAGE, ConvosConvo, ConvosMessage, convos
from server.domain.convos import ConvoMessage, Listing, participant_of
from server.domain.core import Domain
from server.domain.errors import Invalid, Kind, Unauthorized
from server.domain.messaging import check_body
from server.model import MAX_PK, ConvoSummary

router = APIRouter(prefix="/api/Convo", tags=["convos"])

DEFAULT_BEFORE = "9999-12-31T23:59:59"
OK, NO_RESULTS, CREATED, DELETED = 0, 3, 5, 6
RESULT_NAMES = {OK: "OK", NO_RESULTS: "NO_RESULTS", CREATED: "CREATED", DELETED: "DELETED"}
# The result code of an error answer, by status.
ERROR_RESULTS = {400: 1, 404: 2, 401: 4, 403: 4, 413: 1, 409: 1, 429: 1, 500: 7}


class Convos(Dialect):
    """Two-person convos: errors have no body, only `X-Result-Code` and `X-Message`; a refusal is 401."""

    name = "convos"
    prefixes = ("/api/convo",)
    statuses = {**STATUSES, Kind.FORBIDDEN: 401}

    def error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
        """Headers only: the result code of the status and the message."""
        headers = retry_headers(retry_after)
        headers |= {"X-Result-Code": str(ERROR_RESULTS.get(status, 1)), "X-Message": header_safe(message)}
        return Response(status_code=status, headers=headers)


DIALECT = Convos(router)


class ConvoPaths:
    """Convos paths are case-insensitive: rewrite /api/convo/... to the routes' spelling."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].lower().startswith("/api/convo"):
            scope = dict(scope)
            scope["path"] = canonical_path(scope["path"])
            raw = scope.get("raw_path")
            if isinstance(raw, bytes):
                scope["raw_path"] = canonical_path(raw.decode("latin-1")).encode("latin-1")
        await self.app(scope, receive, send)


def canonical_path(path: str) -> str:
    """`/API/convo/3/MESSAGE/` -> `/api/Convo/3/Message`; ids and other paths are left as they are."""
    parts = path.split("/")
    if len(parts) < 3 or parts[1].lower() != "api" or parts[2].lower() != "convo":
        return path
    parts[1], parts[2] = "api", "Convo"
    if len(parts) >= 5 and parts[4].lower() == "message":
        parts[4] = "Message"
    while len(parts) > 3 and parts[-1] == "":
        parts.pop()
    return "/".join(parts)


# ---- credentials ------------------------------------------------------------------------
async def current_user(
    request: Request, x_authorization: Annotated[str | None, Header(alias="X-Authorization")] = None
) -> int:
    """The signed-in caller; `X-Authorization`, when sent, must name that same user."""
    me = await signed_in(request)
    if x_authorization is not None and x_authorization.strip() != str(me):
        raise Unauthorized("Unauthorized", "X-Authorization does not match the signed-in user")
    return me


Me = Annotated[int, Depends(current_user)]
Dom = Annotated[Domain, Depends(domain_dep)]
ConvoId = Annotated[int, Path(ge=1, le=MAX_PK)]
Index = Annotated[int, Query(ge=0, le=MAX_PK)]
Count = Annotated[int, Query(ge=0, le=MAX_PK)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
UserId = Annotated[StrictInt, Field(ge=1, le=MAX_PK)]
MODIFIED = {"X-Last-Modified": header("When it last changed (Convos time).")}
POSTED = convos(None, 400, 401, 404, 409, 429, status=201, description="Posted.", headers=CONVOS_CREATED)


# ---- request bodies ---------------------------------------------------------------------
class Strict(BaseModel):
    """Request bodies: exact types, no coercion, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ConvoPost(Strict):
    Participant: UserId
    Subject: StrictStr | None


class ConvoPatch(Strict):
    Subject: StrictStr | None


class MessagePost(Strict):
    Body: StrictStr
    Recipient: UserId | None = None


class MessagePatch(Strict):
    Body: StrictStr | None = None
    IsRead: StrictBool | None = None


# ---- shapes -----------------------------------------------------------------------------
T = TypeVar("T", bound=Mapping[str, object])
_CONVO_FIELDS = (
    "Id",
    "Creator",
    "Participant",
    "Subject",
    "DateCreated",
    "DateUpdated",
    "DateOfLastMessage",
    "NumMessages",
)
_MESSAGE_FIELDS = ("Id", "ConvoId", "Sender", "Recipient", "Body", "IsRead", "Parent", "Thread", "DateCreated")


def in_order(out: T, fields: tuple[str, ...]) -> T:
    """The object with its fields in the reference's order (the optional ones, left out when null, are
    added after the others)."""
    return cast(T, {name: out[name] for name in fields if name in out})


def convo_object(row: ConvoSummary) -> ConvosConvo:
    """A Convo."""
    c = row.conversation
    out: ConvosConvo = {
        "Id": c.pk,
        "Creator": c.creator_pk or 0,
        "Participant": participant_of(c),
        "DateCreated": times.plain(c.created_at),
        "DateUpdated": times.plain(row.updated_at),
        "NumMessages": row.num_messages,
    }
    if c.subject is not None:
        out["Subject"] = c.subject
    if row.last_message_at is not None:
        out["DateOfLastMessage"] = times.plain(row.last_message_at)
    return in_order(out, _CONVO_FIELDS)


def message_object(view: ConvoMessage) -> ConvosMessage:
    """A Message."""
    m = view.message
    out: ConvosMessage = {
        "Id": m.public_id,
        "ConvoId": m.conversation_pk,
        "Sender": m.sender_pk,
        "Recipient": m.recipient_pk or 0,
        "Body": m.body,
        "IsRead": m.read_at is not None,
        "DateCreated": times.plain(m.created_at),
    }
    if view.parent_id is not None:
        out["Parent"] = view.parent_id
    if view.thread_id is not None:
        out["Thread"] = view.thread_id
    return in_order(out, _MESSAGE_FIELDS)


def answer(
    payload: Any = None, *, status: int = 200, code: int = OK, headers: dict[str, str] | None = None
) -> Response:
    """A response with its result code and message headers."""
    h = {"X-Result-Code": str(code), "X-Message": RESULT_NAMES[code], **(headers or {})}
    if payload is None:
        return Response(status_code=status, headers=h)
    return JSONResponse(payload, status, headers=h)


def parse_before(text: str | None) -> tuple[int, str]:
    """The `before` bound in microseconds, and how it is written back into next-page links."""
    if text is None:
        text = DEFAULT_BEFORE
    try:
        when = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # Convos times are UTC without an offset
        us = times.from_dt(when)
        written = times.plain(us) or DEFAULT_BEFORE  # an offset can push a time past year 9999
    except (ValueError, OverflowError):
        raise Invalid("InvalidBefore", "Could not read a valid date for the 'before' querystring parameter") from None
    return us, written


def paged(
    request: Request,
    path: str,
    listing: Listing[Any],
    items: list[ConvosConvo] | list[ConvosMessage],
    index: int,
    count: int,
    before: str,
) -> Response:
    """A page of a list with its X-* headers; an empty page is NO_RESULTS."""
    headers = {"X-Total-Count": str(listing.total), "X-Response-Count": str(len(items))}
    if listing.newest is not None:
        headers["X-Last-Modified"] = times.plain(listing.newest) or ""
    if not items:
        message = "No results" if listing.total == 0 else f"No results on page {index}"
        headers |= {"X-Result-Code": str(NO_RESULTS), "X-Message": message}
        return Response(status_code=404, headers=headers)
    if index * count + count < listing.total:
        query = urlencode({"index": index + 1, "count": count, "before": before})
        headers["X-URI-Next-Page"] = f"{base_of(request)}{path}?{query}"
    return answer(items, headers=headers)


def base_of(request: Request) -> str:
    """The server's base URI, without the trailing slash."""
    return str(request.base_url).rstrip("/")


# ---- convos -----------------------------------------------------------------------------
@router.get("", response_class=Response, responses=convos(list[ConvosConvo], 400, 401, 404, headers=CONVOS_PAGE))
async def list_convos(
    request: Request, me: Me, domain: Dom, index: Index = 0, count: Count = 10, before: str | None = None
) -> Response:
    """The caller's convos, newest message first (index/count/before paging)."""
    bound, before_text = parse_before(before)
    listing = await domain.convos.inbox(me, before=bound, index=index, count=count)
    items = [convo_object(r) for r in listing.items]
    return paged(request, "/api/Convo", listing, items, index, count, before_text)


@router.post(
    "",
    status_code=201,
    response_class=Response,
    responses=convos(None, 400, 401, 404, status=201, description="Created.", headers=CONVOS_CREATED),
)
async def create_convo(request: Request, body: ConvoPost, me: Me, domain: Dom) -> Response:
    """A new convo with another user; its URI is in X-URI-Reference."""
    conv = await domain.convos.create(me, body.Participant, body.Subject)
    reference = f"{base_of(request)}/api/Convo/{conv.pk}"
    return answer(status=201, code=CREATED, headers={"X-URI-Reference": reference})


@router.get("/{convo_id}", response_class=Response, responses=convos(ConvosConvo, 400, 401, 404, headers=MODIFIED))
async def get_convo(convo_id: ConvoId, me: Me, domain: Dom) -> Response:
    """One convo."""
    row = await domain.convos.get(me, convo_id)
    return answer(convo_object(row), headers={"X-Last-Modified": times.plain(row.updated_at) or ""})


@router.patch("/{convo_id}", response_class=Response, responses=convos(None, 400, 401, 404))
async def patch_convo(convo_id: ConvoId, body: ConvoPatch, me: Me, domain: Dom) -> Response:
    """Change the subject (the creator only)."""
    await domain.convos.patch(me, convo_id, body.Subject)
    return answer()


@router.delete(
    "/{convo_id}",
    status_code=204,
    response_class=Response,
    responses=convos(None, 400, 401, 404, status=204, description="Deleted."),
)
async def delete_convo(convo_id: ConvoId, me: Me, domain: Dom) -> Response:
    """Delete a convo and its messages (the creator only)."""
    await domain.convos.delete(me, convo_id)
    return answer(status=204, code=DELETED)


# ---- messages ---------------------------------------------------------------------------
@router.get(
    "/{convo_id}/Message",
    response_class=Response,
    responses=convos(list[ConvosMessage], 400, 401, 404, headers=CONVOS_PAGE),
)
async def list_messages(
    request: Request,
    convo_id: ConvoId,
    me: Me,
    domain: Dom,
    index: Index = 0,
    count: Count = 10,
    before: str | None = None,
) -> Response:
    """A convo's messages, newest first (index/count/before paging)."""
    bound, before_text = parse_before(before)
    listing = await domain.convos.messages(me, convo_id, before=bound, index=index, count=count)
    items = [message_object(v) for v in listing.items]
    return paged(request, f"/api/Convo/{convo_id}/Message", listing, items, index, count, before_text)


async def _post(
    request: Request,
    domain: Domain,
    me: int,
    convo_id: int,
    body: MessagePost,
    parent_id: str | None,
    idempotency_key: str | None,
) -> Response:
    view = await domain.convos.send(
        me, convo_id, body.Body, recipient_pk=body.Recipient, parent_id=parent_id, idempotency_key=idempotency_key
    )
    reference = f"{base_of(request)}/api/Convo/{convo_id}/Message/{view.message.public_id}"
    return answer(status=201, code=CREATED, headers={"X-URI-Reference": reference})


@router.post("/{convo_id}/Message", status_code=201, response_class=Response, responses=POSTED)
async def post_message(
    request: Request,
    convo_id: ConvoId,
    body: MessagePost,
    me: Me,
    domain: Dom,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Post a message to the other participant; its URI is in X-URI-Reference."""
    return await _post(request, domain, me, convo_id, body, None, idempotency_key)


@router.post("/{convo_id}/Message/{message_id}", status_code=201, response_class=Response, responses=POSTED)
async def reply(
    request: Request,
    convo_id: ConvoId,
    message_id: str,
    body: MessagePost,
    me: Me,
    domain: Dom,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Reply to a message of the convo."""
    return await _post(request, domain, me, convo_id, body, message_id, idempotency_key)


@router.get(
    "/{convo_id}/Message/{message_id}",
    response_class=Response,
    responses=convos(ConvosMessage, 400, 401, 404, headers=MODIFIED),
)
async def get_message(convo_id: ConvoId, message_id: str, me: Me, domain: Dom) -> Response:
    """One message."""
    view = await domain.convos.message(me, convo_id, message_id)
    m = view.message
    modified = max(m.created_at, m.read_at or 0)
    return answer(message_object(view), headers={"X-Last-Modified": times.plain(modified) or ""})


@router.patch("/{convo_id}/Message/{message_id}", response_class=Response, responses=convos(None, 400, 401, 404))
async def patch_message(convo_id: ConvoId, message_id: str, body: MessagePatch, me: Me, domain: Dom) -> Response:
    """Edit the body (the sender) or set IsRead (the recipient)."""
    if body.Body is None and body.IsRead is None:
        raise Invalid("InvalidRequest", "Invalid Message Patch request: send Body or IsRead")
    if body.Body is not None:
        check_body(body.Body)
    if body.IsRead is False:
        raise Invalid("InvalidRequest", "IsRead can only be set to true: a read message stays read")
    await domain.convos.patch_message(me, convo_id, message_id, body=body.Body, mark_read=body.IsRead is True)
    return answer()


@router.delete(
    "/{convo_id}/Message/{message_id}",
    status_code=204,
    response_class=Response,
    responses=convos(None, 400, 401, 404, status=204, description="Deleted."),
)
async def delete_message(convo_id: ConvoId, message_id: str, me: Me, domain: Dom) -> Response:
    """Delete a message (its sender, or an admin taking part)."""
    await domain.convos.delete_message(me, convo_id, message_id)
    return answer(status=204, code=DELETED)
