"""The floor: a bare relay on the same stack (uvicorn, no storage, no auth).

POST /send forwards the body to every WebSocket subscriber of GET /events.
    python -m bench.relay PORT
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

subscribers: set[WebSocket] = set()


async def send(request: Request) -> Response:
    """Relay one body to everyone (serialised once: the same text to every socket)."""
    text = (await request.body()).decode()
    for ws in list(subscribers):
        try:
            await ws.send_text(text)
        except Exception:
            subscribers.discard(ws)
    return Response(status_code=204)


async def events(ws: WebSocket) -> None:
    """Hold a subscriber until it leaves."""
    await ws.accept()
    subscribers.add(ws)
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        subscribers.discard(ws)


app = Starlette(routes=[Route("/send", send, methods=["POST"]), WebSocketRoute("/events", events)])

if __name__ == "__main__":
    print("listening", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
