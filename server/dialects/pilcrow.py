"""pilcrow (the pilcrow reference): boot snapshot and the live event stream (SSE and WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from server.dialects import times
from server.dialects.base import Dialect, retry_headers
from server.dialects.common import domain_dep, domain_of, signed_in, token_of
from server.dialects.events import ooo_object
from server.dialects.shapes.pilcrow import (
    EVENT_STREAM,
    Boot,
    BootMessage,
    BootUser,
    PilcrowChannel,
    PilcrowChannelHistory,
    PilcrowChannelMessage,
    PilcrowInvitation,
    PilcrowInvite,
    PilcrowUser,
    pilcrow,
)
from server.dialects.transport import FRAMES_EXTENSION, sse, ws_text, ws_writer
from server.domain.core import Domain
from server.domain.errors import DomainError, Invalid
from server.domain.views import MessageView, UserView
from server.events import Closed, Subscription
from server.model import User

router = APIRouter(prefix="/api", tags=["pilcrow"])
log = logging.getLogger("huddle.events")


class Pilcrow(Dialect):
    """Boot, events, accounts and channels: errors are text for a person; a body of the wrong shape is 422."""

    name = "pilcrow"
    prefixes = ("/api/",)
    validation_status = 422

    def error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
        """The message as text/plain."""
        return PlainTextResponse(message, status, headers=retry_headers(retry_after))


DIALECT = Pilcrow(router)


Me = Annotated[int, Depends(signed_in)]
Dom = Annotated[Domain, Depends(domain_dep)]


def boot_user(view: UserView) -> BootUser:
    """A user in boot: pilcrow's id and name (the handle), plus presence."""
    u = view.user
    return {
        "id": u.handle,
        "name": u.handle,
        "display_name": u.display_name,
        "status": u.status,
        "last_seen": times.precise(view.last_seen),
        "team": view.team,
        "ooo": ooo_object(view.ooo),
    }


def boot_message(view: MessageView) -> BootMessage:
    """A message in boot, addressed like its `message sent` event."""
    m, conv, parent = view.message, view.conversation, view.parent_id
    at, sender, body, mid = times.precise(m.created_at), view.sender, m.body, m.public_id
    out: BootMessage
    if conv.kind == "channel":
        channel = conv.public_id or ""
        out = {"at": at, "sender": sender, "id": mid, "channel": channel, "body": body, "parent": parent}
    elif conv.kind == "dm":
        to, read_at = view.recipient or "", times.precise(m.read_at)
        out = {
            "at": at,
            "sender": sender,
            "id": m.public_id,
            "to": to,
            "read_at": read_at,
            "body": body,
            "parent": parent,
        }
    elif conv.kind == "convo":
        to = view.recipient or ""
        out = {
            "at": at,
            "sender": sender,
            "id": m.public_id,
            "convo": conv.pk,
            "to": to,
            "body": body,
            "parent": parent,
        }
    else:
        stream = conv.public_id or ""
        out = {"at": at, "sender": sender, "id": mid, "stream": stream, "body": body, "parent": parent}
    if parent is not None:
        out["reply_to"] = parent
    if m.edited_at is not None:
        out["edited_at"] = times.precise(m.edited_at)
    if view.reactions:
        out["reactions"] = view.reactions
    if view.truncated:  # the whole body: GET /api/v2/messages/{id}
        out["truncated"] = True
    return out


@router.get("/boot", responses=pilcrow(Boot, 401, description="The snapshot."))
async def boot(me: Me, domain: Dom) -> Response:
    """Who I am, a snapshot, and the resume point of the event stream just after it."""
    snap = await domain.snapshots.boot(me)
    body: Boot = {
        "user": who(snap.user),
        "resume_point": snap.resume_point,
        "heartbeat": domain.settings.heartbeat,
        "away_after": int(domain.settings.away_after),
        "ring_timeout": int(domain.settings.ring_timeout),
        "users": [boot_user(v) for v in snap.users],
        "channels": [
            {
                "at": times.precise(c.created_at),
                "name": c.name or "",
                "id": c.public_id or "",
                "unread": snap.channel_unread.get(c.pk, (0, 0))[0],
                "mentions": snap.channel_unread.get(c.pk, (0, 0))[1],
            }
            for c in snap.channels
        ],
        "boot_window": domain.settings.boot_window,
        "unread": snap.unread,
        "messages": [boot_message(m) for m in snap.messages],
    }
    # The body is plain JSON already: dumped once, without FastAPI's jsonable_encoder walk
    # (which cost more than building the snapshot for a few thousand messages).
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json")


@router.get(
    "/channels/{channel_id}/messages",
    response_model=Any,
    responses=pilcrow(PilcrowChannelHistory, 400, 401, 404, 422),
)
async def channel_history(
    channel_id: str,
    me: Me,
    domain: Dom,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PilcrowChannelHistory:
    """Older messages of a channel than boot carries: `limit` just before `before`, ascending."""
    page = await domain.channels.history(me, channel_id, before, limit)
    return {"messages": [boot_message(m) for m in page.items], "total": page.total, "next_before": page.next_before}


def resume_point_of(query: str | None, last_event_id: str | None) -> int | None:
    """Last-Event-ID wins over ?resume_point= (as EventSource reconnects)."""
    value = last_event_id if last_event_id not in (None, "") else query
    if value in (None, ""):
        return None
    try:
        point = int(value)
    except ValueError:
        raise Invalid("InvalidResumePoint", f"resume_point must be an integer, not {value!r}") from None
    if point < 0:
        raise Invalid("InvalidResumePoint", "resume_point must not be negative")
    return point


def idle_seconds(domain: Domain) -> float:
    """Heartbeats go out after this long without an event."""
    return float(max(1, domain.settings.heartbeat - 5))


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={**pilcrow(None, 400, 401, 410, 429), 200: EVENT_STREAM},
)
async def events_sse(request: Request, me: Me, domain: Dom, resume_point: str | None = None) -> StreamingResponse:
    """The event stream as Server-Sent Events."""
    point = resume_point_of(resume_point, request.headers.get("last-event-id"))
    sub = await domain.subscribe(me, point, token_of(request))
    idle = idle_seconds(domain)

    async def stream() -> AsyncIterator[bytes]:
        try:
            while True:
                frame = await sub.next(idle)
                yield sse(frame)
        except Closed:
            return
        finally:
            sub.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.websocket("/events")
async def events_ws(websocket: WebSocket) -> None:
    """The same events over a WebSocket: one text frame each, `{"id": N, "data": {...}}`."""
    domain = domain_of(websocket)
    try:
        token = token_of(websocket)
        me = await signed_in(websocket)
        point = resume_point_of(websocket.query_params.get("resume_point"), websocket.headers.get("last-event-id"))
        sub = await domain.subscribe(me, point, token)
    except DomainError as exc:
        # Refused during the handshake: a plain HTTP answer, never an accepted socket.
        await websocket.send_denial_response(DIALECT.domain_error(exc))
        return
    try:
        await websocket.accept()
        frames = websocket.scope.get("extensions", {}).get(FRAMES_EXTENSION)
        if frames is not None:  # under FrameWriter: caught-up frames go straight to the socket
            sub.write = ws_writer(frames["write"])
        reader = asyncio.create_task(_read_client(websocket, domain, me, sub))
        try:
            await _write_events(websocket, sub, idle_seconds(domain), reader)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
    except (WebSocketDisconnect, Closed, RuntimeError):
        pass
    finally:
        sub.close()
        with contextlib.suppress(Exception):
            if sub.revoked:  # 1008 policy violation: the credentials it was opened with are no more
                await websocket.close(code=1008, reason="this token is no longer valid; sign in again")
            else:
                await websocket.close()


async def _write_events(websocket: WebSocket, sub: Subscription, idle: float, reader: asyncio.Task[None]) -> None:
    # When the client goes away the reader closes the subscription, which ends next() at once.
    while not reader.done():
        frame = await sub.next(idle)
        await websocket.send_text(ws_text(frame))


async def _read_client(websocket: WebSocket, domain: Domain, me: int, sub: Subscription) -> None:
    # Clients send {"type": "activity"} while their user types or moves.
    try:
        while True:
            text = await websocket.receive_text()
            with contextlib.suppress(ValueError, DomainError):
                message = json.loads(text)
                if isinstance(message, dict) and message.get("type") == "activity":
                    await domain.people.activity(me)
    finally:
        sub.close()


class ChannelBody(BaseModel):
    """`{"name"}`."""

    model_config = ConfigDict(strict=True)
    name: StrictStr


class SendBody(BaseModel):
    """`{"body"}`, and `reply_to` (a message of the channel this one answers)."""

    model_config = ConfigDict(strict=True)
    body: StrictStr
    reply_to: StrictStr | None = None


@router.post("/channels", status_code=202, responses=pilcrow(PilcrowChannel, 400, 401, 409, 422, status=202))
async def create_channel(body: ChannelBody, me: Me, domain: Dom) -> JSONResponse:
    """A new public channel (409 when the name, case-folded and normalised, is taken)."""
    conv = await domain.channels.create(me, body.name)
    answer: PilcrowChannel = {"id": conv.public_id or "", "name": conv.name or ""}
    return JSONResponse(answer, 202)


@router.post(
    "/channels/{channel_id}",
    status_code=202,
    responses=pilcrow(PilcrowChannelMessage, 400, 401, 404, 409, 422, 429, status=202),
)
async def send_to_channel(
    channel_id: str,
    body: SendBody,
    me: Me,
    domain: Dom,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Post a message to a channel (an Idempotency-Key makes a retry safe)."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 255:
        raise Invalid("InvalidIdempotencyKey", "Idempotency-Key must be 1-255 characters")
    view = await domain.channels.send(me, channel_id, body.body, idempotency_key, body.reply_to)
    m = view.message
    out: PilcrowChannelMessage = {
        "at": times.precise(m.created_at),
        "channel": channel_id,
        "sender": view.sender,
        "id": m.public_id,
        "body": m.body,
    }
    return JSONResponse(out, 202)


@router.delete(
    "/channels/{channel_id}",
    status_code=202,
    response_class=Response,
    responses=pilcrow(None, 401, 403, 404, status=202),
)
async def delete_channel(channel_id: str, me: Me, domain: Dom) -> Response:
    """Remove a channel (its creator or an admin)."""
    await domain.channels.delete(me, channel_id)
    return Response(status_code=202)


@router.delete(
    "/messages/{message_id}",
    status_code=202,
    response_class=Response,
    responses=pilcrow(None, 401, 403, 404, status=202),
)
async def delete_message(message_id: str, me: Me, domain: Dom) -> Response:
    """Remove a message (its sender or an admin)."""
    await domain.messages.delete(me, message_id)
    return Response(status_code=202)


# ---- setup, sign-in, invitations -----------------------------------------------------------
class Credentials(BaseModel):
    """`{"name", "password"}`."""

    model_config = ConfigDict(strict=True)
    name: StrictStr
    password: StrictStr


def with_identity(response: Response, request: Request, token: str) -> Response:
    """Set the `identity` cookie (accepted wherever a bearer token is)."""
    response.set_cookie(
        "identity",
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=30 * 86_400,
    )
    return response


def who(user: User) -> PilcrowUser:
    """pilcrow's user: id and name are the handle."""
    return {"id": user.handle, "name": user.handle}


def from_this_machine(request: Request) -> bool:
    """Whether a request comes from the server's own machine: a loopback peer, not relayed by a proxy."""
    if request.client is None or any(h in request.headers for h in ("forwarded", "x-forwarded-for", "x-real-ip")):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.post("/setup", status_code=204, responses=pilcrow(None, 400, 403, 409, 422, status=204, cookie=True))
async def setup(
    body: Credentials,
    request: Request,
    domain: Dom,
    setup_token: Annotated[str | None, Header(alias="X-Setup-Token")] = None,
) -> Response:
    """Create the first user of an empty server (409 once anyone exists), from the server's machine or
    with the setup token `serve` printed (else 403)."""
    local = from_this_machine(request)
    _user, token = await domain.accounts.setup(body.name, body.password, local=local, setup_token=setup_token)
    return with_identity(Response(status_code=204), request, token)


@router.post("/auth/login", responses=pilcrow(PilcrowUser, 400, 401, 422, 429, cookie=True))
async def login(body: Credentials, request: Request, domain: Dom) -> Response:
    """Sign in; the identity cookie carries the session."""
    address = request.client.host if request.client else "unknown"
    token, user = await domain.auth.login(body.name, body.password, address)
    return with_identity(JSONResponse(who(user)), request, token)


@router.post("/auth/logout", status_code=204, responses=pilcrow(None, 401, status=204, description="Signed out."))
async def logout(request: Request, me: Me, domain: Dom) -> Response:
    """Revoke the session and clear the cookie."""
    token = token_of(request)
    assert token is not None
    await domain.auth.logout(token)
    response = Response(status_code=204)
    response.delete_cookie("identity", path="/", httponly=True, samesite="strict")
    return response


@router.post("/invite", response_model=Any, responses=pilcrow(PilcrowInvite, 401))
async def invite(me: Me, domain: Dom) -> PilcrowInvite:
    """An invitation anyone may accept once within 24 hours."""
    invite_id, issuer, issued_at = await domain.accounts.invite(me)
    return {"id": invite_id, "issuer": issuer.handle, "issued_at": times.precise(issued_at)}


@router.get("/invite/{invite_id}", response_model=Any, responses=pilcrow(PilcrowInvitation, 404))
async def get_invite(invite_id: str, domain: Dom) -> PilcrowInvitation:
    """Who invites you (404 when unknown, used or expired). No sign-in needed."""
    issuer, issued_at = await domain.accounts.get_invite(invite_id)
    return {"id": invite_id, "issuer": who(issuer), "issued_at": times.precise(issued_at)}


@router.post("/invite/{invite_id}", responses=pilcrow(PilcrowUser, 400, 404, 409, 422, cookie=True))
async def accept_invite(invite_id: str, body: Credentials, request: Request, domain: Dom) -> Response:
    """Accept an invitation: a new user, signed in."""
    user, token = await domain.accounts.accept(invite_id, body.name, body.password)
    return with_identity(JSONResponse(who(user)), request, token)
