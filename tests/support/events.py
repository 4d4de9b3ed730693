"""Readers of the live event stream for tests: Server-Sent Events (httpx) and WebSocket (websockets)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.support.live import LiveServer

Ev = tuple[int | None, dict[str, Any]]  # no id: an ephemeral event (typing)
TIMEOUT = 10.0


class SSE:
    """A Server-Sent Events reader on httpx."""

    def __init__(self, server: LiveServer, token: str, *, resume_point: int | None = None, last_id: int | None = None):
        self.server = server
        self.token = token
        self.resume_point = resume_point
        self.last_id = last_id
        self._client: httpx.AsyncClient | None = None
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None

    async def __aenter__(self) -> SSE:
        self._client = httpx.AsyncClient(base_url=self.server.url, timeout=TIMEOUT)
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        params = {"resume_point": self.resume_point} if self.resume_point is not None else {}
        request = self._client.build_request("GET", "/api/events", headers=headers, params=params)
        self._response = await self._client.send(request, stream=True)
        assert self._response.status_code == 200, await self._response.aread()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._lines = self._response.aiter_lines()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._response is not None
        assert self._client is not None
        await self._response.aclose()
        await self._client.aclose()

    async def next(self) -> tuple[int | None, dict[str, Any]]:
        """The next event or heartbeat: (id, data)."""
        assert self._lines is not None
        event_id: int | None = None
        data: dict[str, Any] | None = None
        while True:
            line = await asyncio.wait_for(anext(self._lines), TIMEOUT)
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return event_id, data


class WS:
    """A WebSocket reader."""

    def __init__(self, server: LiveServer, token: str, *, resume_point: int | None = None):
        url = server.url.replace("http", "ws") + "/api/events"
        if resume_point is not None:
            url += f"?resume_point={resume_point}"
        self.url = url
        self.token = token
        self.conn: ClientConnection | None = None

    async def __aenter__(self) -> WS:
        self.conn = await connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.conn is not None
        await self.conn.close()

    async def next(self) -> tuple[int | None, dict[str, Any]]:
        """The next event or heartbeat: (id, data)."""
        assert self.conn is not None
        frame = json.loads(await asyncio.wait_for(self.conn.recv(), TIMEOUT))
        if "id" in frame:
            return int(frame["id"]), frame["data"]
        return None, frame


async def collect(stream: SSE | WS, until: Callable[[dict[str, Any]], bool]) -> list[Ev]:
    """Events (no heartbeats; ephemeral ones with id None) up to and including the first one `until` accepts."""
    out: list[Ev] = []
    while True:
        event_id, data = await stream.next()
        if event_id is None and data == {"type": "heartbeat"}:
            continue
        if event_id is None:
            assert data.get("type") == "typing", data  # the one kind of event that has no id
        out.append((event_id, data))
        if until(data):
            return out
