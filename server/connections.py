"""Every uvicorn protocol subclass of the server: the limits its HTTP protocols lack, mixed into them (a
deadline for each request, `RequestDeadline`; a cap on the size of each request head, `HeadLimit`), and
the WebSocket protocol that writes ready-made event frames (`FrameWriter`).

They reach into uvicorn's internals (its parser callbacks, `cycle`, `send_400_response`, h11's
connection state, the WebSocket protocol's connection), so they live here together;
`http_protocol` composes the limits with uvicorn's httptools protocol (h11 when httptools is
missing), and `server.app.uvicorn_config` uses it and `FrameWriter`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from server.dialects.transport import FRAMES_EXTENSION

log = logging.getLogger("huddle.http")
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class RequestDeadline:
    """Close a connection whose request does not arrive whole (head and body) in time.

    uvicorn has no such timeout: its keep-alive timer only runs between requests and every
    byte resets it, so a client trickling a request a byte at a time (slowloris), or one that
    connects and sends nothing, would hold a connection for ever. The clock starts when the
    connection opens, and again with the first byte of each further request; it stops once the
    request is in whole. What the app then takes to answer (an event stream lasts hours), and
    WebSockets after the upgrade, are not limited. Mixed into uvicorn's HTTP protocol classes.
    """

    timeout_request: float
    transport: asyncio.Transport
    cycle: Any  # uvicorn's RequestResponseCycle of the request being received or answered
    client: tuple[str, int] | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the clock for the first request."""
        super().connection_made(transport)  # type: ignore[misc]
        self._waiting_since: Any = None  # the cycle before the request being received
        self._got_bytes = False
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Start the clock on the first byte of a request; stop it once the request is in whole."""
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()
        self._got_bytes = True
        super().data_received(data)  # type: ignore[misc]
        upgraded = not isinstance(self.transport.get_protocol(), RequestDeadline)  # now a WebSocket
        received = self.cycle is not self._waiting_since and not self.cycle.more_body
        if upgraded or received or self.transport.is_closing():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        self._waiting_since = self.cycle
        self._got_bytes = False
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.timeout_request, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        answering = self.cycle is not self._waiting_since and self.cycle.response_started
        if self._got_bytes and not answering:
            self.transport.write(REQUEST_TIMEOUT)
        log.info("closed a connection from %s: no whole request within %ss", self.client, self.timeout_request)
        self.transport.close()


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the cap."""


class HeadLimit:
    """Answer 431 and close the connection at once when a request head grows past `max_head_bytes`.

    uvicorn sets no such cap with httptools: the parser keeps every byte of an unfinished
    header line or URL until the head ends (20 connections sending 25 MB of unfinished headers
    each: +476 MB, held until the request deadline). Two checks, both in the protocol so that
    nothing of a refused request reaches the app:

    - unfinished: every read that begins while a head is awaited and leaves it unfinished counts
      whole; past the cap the connection answers 431 and closes, so at most the cap plus one
      read (256 KiB) is ever held;
    - whole: a head that arrives within one read is measured from what the parser made of it
      (URL, names and values).

    The subclasses tell when a head is awaited: `HttpToolsHeadLimit` from the parser's
    callbacks, `H11HeadLimit` from h11's state (h11 caps unfinished heads itself; its refusal,
    a 400, is answered as our 431).
    """

    max_head_bytes: int
    transport: asyncio.Transport
    cycle: Any
    client: tuple[str, int] | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """No head bytes yet."""
        self._head_bytes = 0  # of the unfinished head, before this read
        self._pending_head = 0  # the same, with this read (while it is being parsed)
        self._head_over = False
        super().connection_made(transport)  # type: ignore[misc]

    def _awaiting_head(self) -> bool:
        raise NotImplementedError

    def data_received(self, data: bytes) -> None:
        """Count the reads of an unfinished head; past the cap, 431."""
        waiting, cycle = self._awaiting_head(), self.cycle
        self._pending_head = self._head_bytes + len(data) if waiting else 0
        super().data_received(data)  # type: ignore[misc]
        if self.transport.is_closing() or not isinstance(self.transport.get_protocol(), HeadLimit):
            return
        if waiting and self.cycle is cycle and self._awaiting_head():  # still the same unfinished head
            self._head_bytes = self._pending_head
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()
        else:
            self._head_bytes = 0
        self._pending_head = 0

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer when the parser gives up: ours when it gave up on a head over the cap."""
        if self._head_over or self._pending_head > self.max_head_bytes:
            self._refuse_head()
            return
        super().send_400_response(msg)  # type: ignore[misc]

    def _refuse_head(self) -> None:
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering:  # never inside another answer's bytes (a pipelined head behind a stream)
            self.transport.write(head_too_large(self.max_head_bytes))
        log.info("closed a connection from %s: a request head over %s bytes", self.client, self.max_head_bytes)
        self.transport.close()


def head_too_large(limit: int) -> bytes:
    """The whole 431 answer (the connection closes after it)."""
    size = f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"
    body = f"the request head (request line and headers) is over {size}".encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class HttpToolsHeadLimit(HeadLimit):
    """HeadLimit for uvicorn's httptools protocol: its parser callbacks mark where heads begin and end."""

    url: bytes
    headers: list[tuple[bytes, bytes]]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The first head is awaited."""
        self._in_head = True
        super().connection_made(transport)

    def _awaiting_head(self) -> bool:
        return self._in_head

    def on_headers_complete(self) -> None:
        """A whole head: refused when over the cap (parsing stops, send_400_response answers 431)."""
        self._in_head = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            self._head_over = True
            raise HeadTooLarge
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        """The next bytes begin the next head."""
        super().on_message_complete()  # type: ignore[misc]
        self._in_head = True


class H11HeadLimit(HeadLimit):
    """HeadLimit for uvicorn's h11 protocol: a head is awaited while h11 waits for a request."""

    conn: h11.Connection

    def _awaiting_head(self) -> bool:
        return self.conn.their_state is h11.IDLE


def http_protocol(
    timeout_request: float, base: type[asyncio.Protocol] | None = None, *, max_head_bytes: int = 0
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with the request limits that are on (not 0)."""
    if base is None:
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools on CPython
            base = H11Protocol
        else:
            base = HttpToolsProtocol
    mixins: list[type] = []
    if timeout_request:
        mixins.append(RequestDeadline)
    if max_head_bytes:
        mixins.append(H11HeadLimit if issubclass(base, H11Protocol) else HttpToolsHeadLimit)
    if not mixins:
        return base
    attrs = {"timeout_request": timeout_request, "max_head_bytes": max_head_bytes}
    return type(f"Limited{base.__name__}", (*mixins, base), attrs)


class FrameWriter(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, also offering the app to write a ready-made frame at once.

    The event stream writes one serialised frame to every subscriber (bench W2). Through
    the ASGI `send` each socket costs a task wake-up, two send layers and its own framing of
    the same text; `scope["extensions"][FRAMES_EXTENSION]["write"](frame)` writes the bytes
    to the socket straight away, or answers False when the socket is not open or is not
    keeping up, and the app then sends the usual way.
    """

    def handle_connect(self, event: Any) -> None:
        """Accept as uvicorn does, and offer the writer in the scope."""
        super().handle_connect(event)
        scope: Any = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][FRAMES_EXTENSION] = {"write": self.write_frame}

    def write_frame(self, frame: bytes) -> bool:
        """Write one whole unmasked frame now; False when it has to wait for send()."""
        if (
            not self.writable.is_set()
            or self.close_sent
            or self.disconnected
            or self.conn.state is not State.OPEN
            or self.conn.extensions
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True
