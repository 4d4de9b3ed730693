"""Presence that tells the truth when a client goes: a user whose last event stream closes is
away for their teammates within a heartbeat, last seen at their last real activity."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support import LiveServer, manual_clock
from tests.support.events import WS, collect


def presence_of(handle: str) -> Callable[[dict[str, object]], bool]:
    return lambda d: d.get("type") == "presence" and d.get("user") == handle


async def test_closing_the_last_stream_makes_a_user_away_for_teammates(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(clock=manual_clock("2024-03-15T15:00:00Z"), stream_grace=5)
    maya, alex = server.client("maya.chen"), server.client("alex.kim")
    maya_token = maya.headers["Authorization"].split()[1]
    maya.post("/api/v2/activity")  # active at 15:00:00
    async with WS(server, server.login("alex.kim")) as watcher:
        async with WS(server, maya_token), WS(server, maya_token):  # two clients: both must close
            server.clock.advance(120)  # type: ignore[union-attr]
            server.call(server.domain.tick())
        assert alex.get("/api/v2/users/maya.chen/status").json()["status"] == "active"  # the grace
        server.clock.advance(6)  # type: ignore[union-attr]
        server.call(server.domain.tick())
        got = await collect(watcher, presence_of("maya.chen"))
    assert (got[-1][1]["status"], got[-1][1]["last_seen"]) == ("away", "2024-03-15T15:00:00.000000Z")
    status = alex.get("/api/v2/users/maya.chen/status").json()
    assert (status["status"], status["last_seen"]) == ("away", "2024-03-15T15:00:00Z")  # not 15:02


async def test_a_reconnect_within_the_grace_changes_nothing(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T15:00:00Z"), stream_grace=5)
    maya, alex = server.client("maya.chen"), server.client("alex.kim")
    token = maya.headers["Authorization"].split()[1]
    maya.post("/api/v2/activity")
    async with WS(server, token):
        await asyncio.sleep(0.1)
    server.clock.advance(2)  # type: ignore[union-attr]
    async with WS(server, token):  # back (a network blip)
        server.clock.advance(10)  # type: ignore[union-attr]
        server.call(server.domain.tick())
        assert alex.get("/api/v2/users/maya.chen/status").json()["status"] == "active"


async def test_with_the_real_clock_teammates_see_it_within_a_heartbeat(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(stream_grace=0.2, heartbeat=6)
    maya = server.client("maya.chen")
    maya.post("/api/v2/activity")
    async with WS(server, server.login("alex.kim")) as watcher:
        async with WS(server, maya.headers["Authorization"].split()[1]):
            await asyncio.sleep(0.2)
        got = await asyncio.wait_for(collect(watcher, presence_of("maya.chen")), 6)
    assert got[-1][1]["status"] == "away"
