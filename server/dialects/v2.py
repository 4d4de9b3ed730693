"""The v2 dialect (the v2 story): status and last_seen, DMs with read receipts, calls."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypedDict

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.dialects import times
from server.dialects.base import Dialect, retry_headers
from server.dialects.common import domain_dep, domain_of, replay_body, signed_in, token_of
from server.dialects.events import ooo_object
from server.dialects.shapes.v2 import (
    V2Call,
    V2Calls,
    V2Conversations,
    V2Directory,
    V2Health,
    V2History,
    V2Login,
    V2Message,
    V2Read,
    V2ReceivedItem,
    V2Sent,
    V2SentItem,
    V2Status,
    V2User,
    v2,
)
from server.domain.core import Domain
from server.domain.errors import DomainError, Invalid
from server.domain.membership import is_live
from server.domain.views import CallView, MessageView, UserView

router = APIRouter(prefix="/api/v2", tags=["v2"])


class V2(Dialect):
    """Status and DMs: JSON errors `{"error": {"code", "message"}}`; also the shape of paths no dialect owns."""

    name = "v2"
    prefixes = ("/api/v2",)

    def error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
        """`{"error": {"code", "message"}}`."""
        return JSONResponse({"error": {"code": code, "message": message}}, status, headers=retry_headers(retry_after))


DIALECT = V2(router)


Me = Annotated[int, Depends(signed_in)]
Dom = Annotated[Domain, Depends(domain_dep)]
CALL_ACTION = v2(V2Call, 401, 403, 404, 409)


class Strict(BaseModel):
    """Request bodies: exact types, no coercion."""

    model_config = ConfigDict(strict=True)


class LoginBody(Strict):
    user: StrictStr
    password: StrictStr


class MessageBody(Strict):
    to: StrictStr
    body: StrictStr
    reply_to: StrictStr | None = None


class CallBody(Strict):
    to: StrictStr
    type: StrictStr = "audio"


class PatchBody(Strict):
    display_name: StrictStr | None = None
    status: StrictStr | None = None
    hide_last_seen: StrictBool | None = None


# ---- shapes ---------------------------------------------------------------------------
def status_object(view: UserView) -> V2Status:
    """The story's status object, plus ooo, and who set a sticky status."""
    u = view.user
    out: V2Status = {
        "user": u.handle,
        "status": u.status,
        "last_seen": times.v2(view.last_seen),
        "display_name": u.display_name,
        "team": view.team,
        "ooo": ooo_object(view.ooo),
    }
    if view.set_by is not None:
        out["updated_by"] = view.set_by.handle
        out["updated_at"] = times.v2(view.set_by.at)
    return out


def user_object(view: UserView) -> V2User:
    """The status object plus id, memberships and role."""
    # hide_last_seen, not required, comes after: mypy's extra checks want it in the literal or a ** item.
    out: V2User = {
        "id": view.user.pk,
        **status_object(view),  # type: ignore[typeddict-item]
        "teams": [{"id": t.pk, "name": t.name} for t in view.teams if is_live(t)],
        "workspaces": [{"id": w.pk, "name": w.name} for w in view.workspaces if is_live(w)],
        "role": view.user.role,
    }
    if view.is_self:
        out["hide_last_seen"] = view.user.hide_last_seen
    return out


def _status(view: MessageView) -> Literal["delivered", "read"]:
    return "read" if view.message.read_at is not None else "delivered"


class _Where(TypedDict, total=False):
    """Where a message was written: the one key of the three that it carries."""

    to: str
    channel: str
    stream: str


def message_object(view: MessageView) -> V2Message:
    """A message with everything a client needs: `to` for a DM or convo message, else its channel or stream."""
    m, conv = view.message, view.conversation
    where: _Where
    if conv.kind == "channel":
        where = {"channel": conv.public_id or ""}
    elif conv.kind == "stream":
        where = {"stream": conv.public_id or ""}
    else:
        where = {"to": view.recipient or ""}
    obj: V2Message = {
        "message_id": m.public_id,
        "from": view.sender,
        **where,
        "body": m.body,
        "timestamp": times.v2(m.created_at),
        "status": _status(view),
        "read_at": times.v2(m.read_at),
        "edited_at": times.v2(m.edited_at),
        "reply_to": view.parent_id,
        "reactions": view.reactions,
    }
    return obj


def sent_item(view: MessageView) -> V2SentItem:
    """An item of `?to=`: what became of a message I sent."""
    m = view.message
    return {"message_id": m.public_id, "body": m.body, "status": _status(view), "read_at": times.v2(m.read_at)}


def received_item(view: MessageView) -> V2ReceivedItem:
    """An item of `?from=`: a message someone sent me."""
    m = view.message
    return {"message_id": m.public_id, "from": view.sender, "body": m.body, "timestamp": times.v2(m.created_at)}


def call_object(view: CallView) -> V2Call:
    """A call."""
    c = view.call
    return {
        "call_id": c.public_id,
        "from": view.caller,
        "to": view.callee,
        "type": c.type,
        "status": c.status,
        "started_at": times.v2(c.started_at),
        "ended_at": times.v2(c.ended_at),
        "duration_seconds": c.duration_seconds,
    }


# ---- health ---------------------------------------------------------------------------
@router.get("/health", response_model=Any, responses=v2(V2Health, 503))
async def health(domain: Dom) -> V2Health | Response:
    """For load balancers: 200 when this process reads its database now, else 503. No sign-in."""
    newest = await domain.health()
    if newest is None:
        return DIALECT.error(503, "Unavailable", "this server cannot reach its database")
    return {"status": "ok", "resume_point": newest}


# ---- auth -----------------------------------------------------------------------------
@router.post("/auth/login", response_model=Any, responses=v2(V2Login, 400, 401, 429))
async def login(body: LoginBody, request: Request, domain: Dom) -> V2Login:
    """Exchange a handle and password for a bearer token."""
    address = request.client.host if request.client else "unknown"
    token, user = await domain.auth.login(body.user, body.password, address)
    view = await domain.people.get(user.pk, user.handle)
    return {"token": token, "user": user_object(view)}


@router.post("/auth/logout", status_code=204, responses=v2(None, 401, status=204, description="Signed out."))
async def logout(request: Request, me: Me, domain: Dom) -> Response:
    """Revoke the token used for this request."""
    token = token_of(request)
    assert token is not None
    await domain.auth.logout(token)
    return Response(status_code=204)


# ---- users and presence ---------------------------------------------------------------
@router.get("/users", response_model=Any, responses=v2(V2Directory, 401))
async def directory(me: Me, domain: Dom) -> V2Directory:
    """Everyone, with status."""
    views = await domain.people.directory(me)
    return {"users": [user_object(v) for v in views], "total": len(views)}


@router.get("/users/{handle}", response_model=Any, responses=v2(V2User, 401, 404))
async def get_user(handle: str, me: Me, domain: Dom) -> V2User:
    """One user."""
    return user_object(await domain.people.get(me, handle))


@router.get("/users/{handle}/status", response_model=Any, responses=v2(V2Status, 401, 404))
async def get_status(handle: str, me: Me, domain: Dom) -> V2Status:
    """One user's status and last_seen."""
    return status_object(await domain.people.get(me, handle))


@router.patch("/users/{handle}", response_model=Any, responses=v2(V2User, 400, 401, 403, 404))
async def patch_user(handle: str, body: PatchBody, me: Me, domain: Dom) -> V2User:
    """Set your own dnd, name or hide_last_seen; admins set anyone's status, leave included."""
    fields = {name: getattr(body, name) for name in body.model_fields_set}
    return user_object(await domain.people.patch(me, handle, **fields))


@router.post("/activity", status_code=204, responses=v2(None, 401, status=204, description="Noted."))
async def activity(me: Me, domain: Dom) -> Response:
    """The user is here (typing, moving): keeps them active."""
    await domain.people.activity(me)
    return Response(status_code=204)


# ---- messages -------------------------------------------------------------------------
@router.post("/messages", response_model=Any, responses=v2(V2Sent, 400, 401, 404, 409, 429))
async def send_message(
    body: MessageBody,
    me: Me,
    domain: Dom,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> V2Sent:
    """Send a DM (`reply_to`: a message of that DM it answers); with an Idempotency-Key, a retry
    returns the first answer."""
    return sent_object(await domain.messages.send_dm(me, body.to, body.body, idempotency_key, body.reply_to))


def sent_object(view: MessageView) -> V2Sent:
    """The answer to a send."""
    m = view.message
    return {"message_id": m.public_id, "status": "delivered", "timestamp": times.v2(m.created_at)}


class SendLane:
    """`POST /api/v2/messages` without FastAPI's per-request machinery, for well-formed requests.

    The hottest write of all (bench W4) spent two-thirds of the event loop's time per send in
    FastAPI's routing and dependency solving, not in Huddle. The lane answers a send whose
    body is JSON the model accepts: it authenticates, sends and renders exactly as the route
    `send_message` above does, sharing its model, its answer and the domain-error shape. Any
    other request (not JSON, a body the model refuses, another path) goes on unchanged to the
    app, whose route stays the one place that decides what a bad request is told. Installed
    inside BodyLimit, so size and Unicode checks apply first; `handled` counts its answers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.handled = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/api/v2/messages":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        body = await request.body()
        fields = _well_formed(request, body)
        if fields is None:
            await self.app(scope, replay_body(body, receive), send)
            return
        domain = domain_of(request)
        try:
            me = await signed_in(request)
            key = request.headers.get("idempotency-key")
            view = await domain.messages.send_dm(me, fields.to, fields.body, key, fields.reply_to)
        except DomainError as exc:
            response: Response = DIALECT.domain_error(exc)
        else:
            response = JSONResponse(sent_object(view))
        self.handled += 1
        await response(scope, receive, send)


def _well_formed(request: Request, body: bytes) -> MessageBody | None:
    """The body as the route would validate it, or None when the route should say what is wrong."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        return None
    try:
        return MessageBody.model_validate(json.loads(body))
    except (ValueError, RecursionError, ValidationError):  # bad JSON or UTF-8, too deep, refused
        return None


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return times.parse_date_or_time(value)
    except ValueError as exc:
        raise Invalid("InvalidDate", f"since must be a date (2024-03-15) or an RFC 3339 time: {exc}") from None


@router.get("/messages", response_model=Any, responses=v2(V2History, 400, 401, 404))
async def list_messages(
    me: Me,
    domain: Dom,
    to: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    with_: Annotated[str | None, Query(alias="with")] = None,
    since: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> V2History:
    """My DMs to, from or with someone; paged back with `before`."""
    page = await domain.messages.history(
        me, to=to, sender=from_, with_=with_, since=_since(since), before=before, limit=limit
    )
    items: list[V2Message | V2SentItem | V2ReceivedItem]
    if to is not None:
        items = [sent_item(v) for v in page.items]
    elif from_ is not None:
        items = [received_item(v) for v in page.items]
    else:
        items = [message_object(v) for v in page.items]
    return {"messages": items, "total": page.total, "next_before": page.next_before}


@router.get("/messages/{message_id}", response_model=Any, responses=v2(V2Message, 401, 404))
async def get_message(message_id: str, me: Me, domain: Dom) -> V2Message:
    """One message (sender or recipient only)."""
    return message_object(await domain.messages.get(me, message_id))


@router.post("/messages/{message_id}/read", response_model=Any, responses=v2(V2Read, 401, 403, 404))
async def read_message(message_id: str, me: Me, domain: Dom) -> V2Read:
    """Mark a message and everything before it from that sender read."""
    message = await domain.messages.mark_read(me, message_id)
    return {"message_id": message.public_id, "status": "read", "read_at": times.v2(message.read_at)}


@router.get("/conversations", response_model=Any, responses=v2(V2Conversations, 401))
async def conversations(me: Me, domain: Dom) -> V2Conversations:
    """One row per DM partner with the unread count, newest first."""
    rows = await domain.messages.conversations(me)
    return {
        "conversations": [
            {"with": r.partner, "unread": r.unread, "last_message": message_object(r.last) if r.last else None}
            for r in rows
        ]
    }


# ---- calls ----------------------------------------------------------------------------
@router.post("/calls", response_model=Any, responses=v2(V2Call, 400, 401, 404, 409))
async def start_call(body: CallBody, me: Me, domain: Dom) -> V2Call:
    """Ring someone; no_answer after the ring timeout."""
    return call_object(await domain.calls.start(me, body.to, body.type))


@router.get("/calls", response_model=Any, responses=v2(V2Calls, 400, 401))
async def list_calls(
    me: Me,
    domain: Dom,
    missed: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> V2Calls:
    """My calls, or (missed=true) the calls to me nobody answered; newest first."""
    calls, total = await domain.calls.list(me, missed=missed, limit=limit)
    return {"calls": [call_object(c) for c in calls], "total": total}


@router.get("/calls/{call_id}", response_model=Any, responses=v2(V2Call, 401, 404))
async def get_call(call_id: str, me: Me, domain: Dom) -> V2Call:
    """One of my calls."""
    return call_object(await domain.calls.get(me, call_id))


@router.post("/calls/{call_id}/answer", response_model=Any, responses=CALL_ACTION)
async def answer_call(call_id: str, me: Me, domain: Dom) -> V2Call:
    """Answer a call ringing for me."""
    return call_object(await domain.calls.act(me, call_id, "answer"))


@router.post("/calls/{call_id}/decline", response_model=Any, responses=CALL_ACTION)
async def decline_call(call_id: str, me: Me, domain: Dom) -> V2Call:
    """Decline a call ringing for me."""
    return call_object(await domain.calls.act(me, call_id, "decline"))


@router.post("/calls/{call_id}/end", response_model=Any, responses=CALL_ACTION)
async def end_call(call_id: str, me: Me, domain: Dom) -> V2Call:
    """Hang up (a ringing call: cancel it, or decline it when it rings for me)."""
    return call_object(await domain.calls.act(me, call_id, "end"))
