"""What every dialect shares: credentials, error shapes, the body size cap, the Host check."""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from server.dialects.base import Dialects
from server.dialects.origins import check_cookie_origin, host_refusal
from server.domain.core import Domain
from server.domain.errors import DomainError, Unauthorized

log = logging.getLogger("huddle.http")

# A JSON escape of a UTF-16 surrogate; only bodies holding one get the full check below.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# How much of a refused body is read (and dropped) so the client sees the 413 cleanly.
DRAIN_LIMIT = 64 * 1024 * 1024


def domain_of(conn: HTTPConnection) -> Domain:
    """The domain of the running app."""
    domain: Domain = conn.app.state.domain
    return domain


async def domain_dep(conn: HTTPConnection) -> Domain:
    """`domain_of` as a dependency: FastAPI runs a plain `def` dependency on a worker thread,
    a thread hop per request (bench W4); an `async def` one is called in place."""
    return domain_of(conn)


async def signed_in(conn: HTTPConnection) -> int:
    """The pk of the signed-in caller (a bearer token, else the identity cookie; see token_of)."""
    token = token_of(conn)
    if not token:
        raise Unauthorized("Unauthorized", "sign in first: send Authorization: Bearer <token>")
    return await domain_of(conn).auth.authenticate(token)


def token_of(conn: HTTPConnection) -> str | None:
    """A bearer token from the Authorization header, else the `identity` cookie: for a change or a
    WebSocket, only from an allowed Origin (Forbidden otherwise, see server.dialects.origins)."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = conn.cookies.get("identity")
    if cookie:
        check_cookie_origin(conn, conn.app.state.allow_origins)
    return cookie or None


def header_safe(text: str) -> str:
    """Text fit for an HTTP header value: Latin-1, no control characters (they end the connection)."""
    latin = text.encode("latin-1", "replace").decode("latin-1")
    return "".join(ch if " " <= ch <= "~" or ch >= "\xa0" else "?" for ch in latin)[:500]


def describe_validation(exc: RequestValidationError) -> str:
    """A short human description of what was wrong with a request."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        if err.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
        else:
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI, dialects: Dialects) -> None:
    """Render every error in the shape of the dialect the request was for; never a traceback."""

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return dialects.of(request.scope).domain_error(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        dialect = dialects.of(request.scope)
        return dialect.error(dialect.validation_status, "InvalidRequest", describe_validation(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized", 400: "InvalidRequest"}
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such resource: {request.method} {request.url.path}"
        return dialects.of(request.scope).error(exc.status_code, codes.get(exc.status_code, "Error"), message)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return dialects.of(request.scope).error(500, "InternalError", "the server failed; the error was logged")

    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


class HostCheck:
    """Refuse a request (or WebSocket handshake) whose Host is not a name the server answers to: 400
    in the dialect's shape, before anything else reads it."""

    def __init__(self, app: ASGIApp, names: frozenset[str], dialects: Dialects) -> None:
        self.app = app
        self.names = names
        self.dialects = dialects

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        why = host_refusal(None if host is None else host.decode("latin-1"), self.names)
        if why is None:
            await self.app(scope, receive, send)
            return
        response = self.dialects.of(scope).error(400, "InvalidHost", why)
        if scope["type"] == "websocket":
            await WebSocket(scope, receive, send).send_denial_response(response)
        else:
            await response(scope, receive, send)


def _has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON body decodes to text that is not valid Unicode (an unpaired surrogate)."""
    if not _SURROGATE_ESCAPE.search(body):
        return False
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except ValueError:
        return False  # not JSON: the dialect reports that itself
    return False


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive that gives a body already read whole, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BodyLimit:
    """Refuse bodies over the cap with 413 (reading no more than cap + 1 bytes), and text that is not Unicode."""

    def __init__(self, app: ASGIApp, max_bytes: int, dialects: Dialects) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.dialects = dialects

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _has_lone_surrogate(body):
            dialect = self.dialects.of(scope)
            why = "the body holds text that is not valid Unicode (an unpaired surrogate)"
            await dialect.error(dialect.validation_status, "InvalidRequest", why)(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = f"{self.max_bytes // 1024} KiB" if self.max_bytes % 1024 == 0 else f"{self.max_bytes} bytes"
        response = self.dialects.of(scope).error(413, "PayloadTooLarge", f"the request body is over {limit}")
        await response(scope, receive, send)
        # Read and drop what the client is still sending (never kept), so it gets the answer
        # instead of a reset connection; past DRAIN_LIMIT the connection is simply closed.
        drained = 0
        while drained < DRAIN_LIMIT:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
