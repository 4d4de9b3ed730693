"""Sessions that end: revoking or expiring a token closes the event streams opened with it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support import LiveServer, manual_clock
from tests.support.events import SSE, TIMEOUT, WS, collect

# "About a second": the server checks open streams every tick (0.05 s here); generous for CI.
CLOSED_WITHIN = 5.0


async def closed(ws: WS) -> int | None:
    """The close code once the server has closed the socket (events before it are skipped)."""
    assert ws.conn is not None
    try:
        while True:
            await asyncio.wait_for(ws.conn.recv(), CLOSED_WITHIN)
    except ConnectionClosed:
        assert ws.conn.close_code is not None
        return ws.conn.close_code
    except TimeoutError:
        return None


async def sse_ended(sse: SSE) -> bool:
    """Whether the server ended the SSE stream (heartbeats and events before it are skipped)."""
    try:
        while True:
            await asyncio.wait_for(sse.next(), CLOSED_WITHIN)
    except StopAsyncIteration:
        return True
    except (TimeoutError, httpx.ReadTimeout):
        return False


def dm(server: LiveServer, body: str) -> None:
    """jin sends alex a DM."""
    r = httpx.post(
        f"{server.url}/api/v2/messages",
        json={"to": "alex.kim", "body": body},
        headers={"Authorization": f"Bearer {server.token('jin.park')}"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/api/v2/auth/logout", "/api/auth/logout"])
async def test_logout_closes_the_streams_of_that_token_only(server: LiveServer, path: str) -> None:
    """Logout (v2 or pilcrow) closes the WebSocket and the SSE stream opened with that token (WebSocket
    code 1008) before anything sent later reaches them; a stream of another token of the same user
    stays open and receives the DM."""
    token, other = server.login("alex.kim"), server.login("alex.kim")
    async with WS(server, token) as ws, SSE(server, token) as sse, WS(server, other) as kept:
        r = await asyncio.to_thread(httpx.post, server.url + path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204
        assert await closed(ws) == 1008
        assert await sse_ended(sse)
        await asyncio.to_thread(dm, server, "after logout")
        got = await collect(kept, lambda d: d.get("body") == "after logout")
        assert got[-1][1]["body"] == "after logout"


async def test_logout_with_the_cookie_closes_the_cookie_stream(server: LiveServer) -> None:
    """A WebSocket opened with the identity cookie is closed by the pilcrow logout made with it."""
    body = {"name": "alex.kim", "password": "alex-pass"}
    r = await asyncio.to_thread(httpx.post, f"{server.url}/api/auth/login", json=body)
    cookie = r.cookies["identity"]
    url = server.url.replace("http", "ws") + "/api/events"
    page = {"Cookie": f"identity={cookie}", "Origin": server.url}  # as the server's own pages send it
    async with connect(url, additional_headers=page) as conn:
        out = await asyncio.to_thread(httpx.post, f"{server.url}/api/auth/logout", headers=page)
        assert out.status_code == 204
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(conn.recv(), CLOSED_WITHIN)  # no event comes before the close
        assert conn.close_code == 1008


async def test_a_token_revoked_in_the_database_closes_its_streams(server: LiveServer) -> None:
    """A revocation the process did not make (as `huddle-server user passwd` does from another process)
    is noticed by the periodic check: the streams close."""
    token = server.login("alex.kim")
    async with WS(server, token) as ws, SSE(server, token) as sse:
        user = server.domain.store.read_sync(lambda repo: repo.get_user_by_handle("alex.kim"))
        assert user is not None
        server.domain.store.write_sync(lambda tx: tx.revoke_user_tokens(user.pk, server.domain.clock.now()))
        assert await closed(ws) == 1008
        assert await sse_ended(sse)


async def test_an_expired_token_closes_its_streams(make_server: Callable[..., LiveServer]) -> None:
    """30 days without use: the token expires, and the streams opened with it close."""
    server = make_server(clock=manual_clock("2024-03-15T09:00:00Z"))
    token = server.token("alex.kim")
    async with WS(server, token) as ws:
        await asyncio.sleep(0.2)
        assert ws.conn is not None
        assert ws.conn.close_code is None  # open while the token is valid
        server.clock.advance(30 * 86_400 + 1)  # type: ignore[union-attr]
        assert await closed(ws) == 1008


async def test_streams_of_a_valid_token_stay_open(server: LiveServer) -> None:
    """The periodic check closes nothing that is still valid: the stream gets a DM seconds later."""
    token = server.login("alex.kim")
    async with WS(server, token) as ws:
        await asyncio.sleep(0.5)  # ten ticks of the check
        await asyncio.to_thread(dm, server, "still here")
        got = await asyncio.wait_for(collect(ws, lambda d: d.get("body") == "still here"), TIMEOUT)
        assert got[-1][1]["body"] == "still here"
