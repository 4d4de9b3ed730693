"""The event stream on the wire: a hub frame as Server-Sent Events, as a WebSocket text message, and as
a ready-made WebSocket frame for servers that write those straight to the socket (FrameWriter).

Each form is made once per frame, the first time a subscriber needs it, and kept on the frame: the
same bytes go to every subscriber (at 1,000 subscribers, framing per socket was a tenth of a fan-out).
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from server.events import Frame, Writer

# The ASGI scope extension through which a server (server.connections.FrameWriter) offers
# `{"write": callable}`: write one ready-made WebSocket frame now, or answer False.
FRAMES_EXTENSION = "huddle.frames"
HEARTBEAT = '{"type":"heartbeat"}'
_HEARTBEAT_SSE = f"data: {HEARTBEAT}\n\n".encode()
_HEARTBEAT_WIRE = WsFrame(Opcode.TEXT, HEARTBEAT.encode()).serialize(mask=False)


def sse(frame: Frame | None) -> bytes:
    """The Server-Sent Events form of a frame (None: a heartbeat)."""
    if frame is None:
        return _HEARTBEAT_SSE
    form = frame.forms.get("sse")
    if form is None:
        head = f"id: {frame.id}\n" if frame.id is not None else ""
        form = frame.forms["sse"] = f"{head}data: {frame.json}\n\n".encode()
    return form


def ws_text(frame: Frame | None) -> str:
    """The WebSocket text message of a frame: `{"id": N, "data": {...}}` (None: a bare heartbeat)."""
    if frame is None:
        return HEARTBEAT
    form = frame.forms.get("ws")
    if form is None:
        form = frame.forms["ws"] = frame.json if frame.id is None else f'{{"id":{frame.id},"data":{frame.json}}}'
    return form


def ws_wire(frame: Frame | None) -> bytes:
    """The text message as one whole unmasked WebSocket frame, as a server writes it to a socket."""
    if frame is None:
        return _HEARTBEAT_WIRE
    form = frame.forms.get("wire")
    if form is None:
        form = frame.forms["wire"] = WsFrame(Opcode.TEXT, ws_text(frame).encode()).serialize(mask=False)
    return form


def ws_writer(write_frame: Callable[[bytes], bool]) -> Writer:
    """A hub writer (server.events.Subscription.write) over a server's write of ready-made WebSocket frames."""

    def write(frame: Frame | None) -> bool:
        return write_frame(ws_wire(frame))

    return write
