"""The send lane (v2.SendLane) answers every request exactly as the FastAPI route behind it.

Two real servers on the same team, one with the lane and one without, get the same requests
in the same order; their answers (status, headers that matter, body with ids and times
masked) and what they stored must be the same, and the lane must have answered the
well-formed sends itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.dialects.v2 import SendLane
from server.settings import Settings
from tests.support import LiveServer, load_team

PATH = "/api/v2/messages"
JSON = "application/json"
ID = re.compile(r"msg_[0-9a-z]+")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def start(tmp_path: Path, name: str, *, lane: bool, **settings: Any) -> LiveServer:
    """A server on a fresh database with the test team, with or without the lane."""
    db = tmp_path / name / "huddle.db"
    db.parent.mkdir(parents=True)
    load_team(db)
    server = LiveServer(Settings(db=db, tick_seconds=0.05, **settings), None)
    if not lane:
        server.app.user_middleware = [m for m in server.app.user_middleware if m.cls is not SendLane]
    return server.start()


def lane_of(server: LiveServer) -> SendLane | None:
    """The lane in the server's middleware stack (built on the first request)."""
    app: Any = server.app.middleware_stack
    while app is not None:
        if isinstance(app, SendLane):
            return app
        app = getattr(app, "app", None)
    return None


def requests(token: str, url: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, httpx request arguments) for POST /api/v2/messages to the server at url, good and bad."""
    auth = {"Authorization": f"Bearer {token}"}
    cookie = {"Cookie": f"identity={token}"}
    ok = b'{"to": "jin.park", "body": "hello"}'
    cases: list[tuple[str, dict[str, Any]]] = [
        ("plain", {"headers": auth | {"Content-Type": JSON}, "content": ok}),
        ("charset", {"headers": auth | {"Content-Type": "application/json; charset=utf-8"}, "content": ok}),
        ("upper-case type", {"headers": auth | {"Content-Type": "Application/JSON"}, "content": ok}),
        ("extra field", {"headers": auth, "json": {"to": "jin.park", "body": "x", "more": 1}}),
        ("unicode", {"headers": auth, "json": {"to": "jin.park", "body": "naïve ✓✓ 🚀"}}),
        ("key", {"headers": auth | {"Idempotency-Key": "k-1"}, "json": {"to": "jin.park", "body": "once"}}),
        ("key again", {"headers": auth | {"Idempotency-Key": "k-1"}, "json": {"to": "jin.park", "body": "once"}}),
        ("key too long", {"headers": auth | {"Idempotency-Key": "k" * 256}, "json": {"to": "jin.park", "body": "x"}}),
        ("cookie", {"headers": cookie | {"Origin": url}, "json": {"to": "maya.chen", "body": "by cookie"}}),
        ("cookie, no origin", {"headers": cookie, "json": {"to": "maya.chen", "body": "x"}}),
        ("cookie, foreign origin", {"headers": cookie | {"Origin": "http://127.0.0.1:9"}, "json": {"to": "x"}}),
        ("no token", {"json": {"to": "jin.park", "body": "x"}}),
        ("bad token", {"headers": {"Authorization": "Bearer nope"}, "json": {"to": "jin.park", "body": "x"}}),
        ("bad token, bad body", {"headers": {"Authorization": "Bearer nope"}, "json": {"to": 1}}),
        ("to self", {"headers": auth, "json": {"to": "alex.kim", "body": "me"}}),
        ("to nobody", {"headers": auth, "json": {"to": "nobody.here", "body": "x"}}),
        ("empty body text", {"headers": auth, "json": {"to": "jin.park", "body": ""}}),
        ("blank body text", {"headers": auth, "json": {"to": "jin.park", "body": "   "}}),
        ("huge body text", {"headers": auth, "json": {"to": "jin.park", "body": "x" * 20_000}}),
        ("missing field", {"headers": auth, "json": {"to": "jin.park"}}),
        ("wrong type", {"headers": auth, "json": {"to": "jin.park", "body": 5}}),
        ("array", {"headers": auth, "json": ["jin.park", "x"]}),
        ("null", {"headers": auth | {"Content-Type": JSON}, "content": b"null"}),
        ("not json", {"headers": auth | {"Content-Type": JSON}, "content": b"{to: jin.park"}),
        ("not utf-8", {"headers": auth | {"Content-Type": JSON}, "content": b'{"to": "jin.park", "body": "\xff"}'}),
        ("deep", {"headers": auth | {"Content-Type": JSON}, "content": b"[" * 100_000 + b"]" * 100_000}),
        (
            "lone surrogate",
            {"headers": auth | {"Content-Type": JSON}, "content": b'{"to":"jin.park","body":"\\ud800"}'},
        ),
        ("empty", {"headers": auth | {"Content-Type": JSON}, "content": b""}),
        ("no type", {"headers": auth, "content": ok}),
        ("form", {"headers": auth, "data": {"to": "jin.park", "body": "x"}}),
        ("text type", {"headers": auth | {"Content-Type": "text/plain"}, "content": ok}),
        ("json suffix type", {"headers": auth | {"Content-Type": "application/vnd.x+json"}, "content": ok}),
        ("over the cap", {"headers": auth | {"Content-Type": JSON}, "content": b" " * 70_000 + ok}),
    ]
    return cases


def answer(r: httpx.Response) -> tuple[Any, ...]:
    """What a client sees, with message ids and times masked."""
    text = STAMP.sub("<time>", ID.sub("<id>", r.text))
    headers = {k: r.headers.get(k) for k in ("content-type", "retry-after", "content-length")}
    return r.status_code, headers, text


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """A server with the lane and one without."""
    cap = {"max_body_bytes": 65_536}
    servers = [start(tmp_path, "lane", lane=True, **cap), start(tmp_path, "route", lane=False, **cap)]
    yield servers[0], servers[1]
    for s in servers:
        s.stop()


def test_the_lane_answers_as_the_route_does(pair: tuple[LiveServer, LiveServer]) -> None:
    lane, route = pair
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for server in (lane, route):
        token = server.login("alex.kim")
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for name, kwargs in requests(token, server.url):
                seen.setdefault(name, []).append(answer(client.post(PATH, **kwargs)))
    for name, (with_lane, without) in seen.items():
        assert with_lane == without, name
    statuses = {name: answers[0][0] for name, answers in seen.items()}
    assert statuses["plain"] == statuses["key again"] == statuses["cookie"] == 200
    assert statuses["cookie, no origin"] == statuses["cookie, foreign origin"] == 403
    assert {statuses["no token"], statuses["bad token"], statuses["bad token, bad body"]} == {401}
    assert statuses["to nobody"] == 404
    assert statuses["not json"] == 400
    assert statuses["over the cap"] == 413

    # The same messages were stored, and the lane (not the route) answered the well-formed sends.
    def history(server: LiveServer) -> list[tuple[str, str, str]]:
        with server.client("jin.park") as client:
            r = client.get(PATH, params={"with": "alex.kim", "limit": 200})
        assert r.status_code == 200, r.text
        return [(m["from"], m["to"], m["body"]) for m in r.json()["messages"]]

    stored = history(lane)
    assert stored == history(route)
    assert len(stored) == 8
    served = lane_of(lane)
    assert served is not None
    assert served.handled >= 10
    assert lane_of(route) is None


def test_the_lane_rate_limits_as_the_route_does(tmp_path: Path) -> None:
    servers = [start(tmp_path, "lane", lane=True, send_rate=3), start(tmp_path, "route", lane=False, send_rate=3)]
    try:
        runs = []
        for server in servers:
            with server.client("alex.kim") as client:
                runs.append([answer(client.post(PATH, json={"to": "jin.park", "body": f"n{i}"})) for i in range(5)])
        assert runs[0] == runs[1]
        assert [a[0] for a in runs[0]] == [200, 200, 200, 429, 429]
        assert runs[0][3][1]["retry-after"] is not None
    finally:
        for s in servers:
            s.stop()
