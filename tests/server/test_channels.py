"""pilcrow channels: create (names case-folded), send, delete; in boot and on the stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.support import LiveServer
from tests.support.events import SSE, collect


def test_create_send_and_see_it_in_boot(server: LiveServer) -> None:
    alex, sam = server.client("alex.kim"), server.client("sam.ortiz")
    r = alex.post("/api/channels", json={"name": "Incidents"})
    assert r.status_code == 202
    channel = r.json()
    assert channel["name"] == "Incidents"
    assert channel["id"].startswith("ch_")
    sent = alex.post(f"/api/channels/{channel['id']}", json={"body": "db is slow"})
    assert sent.status_code == 202
    assert set(sent.json()) == {"at", "channel", "sender", "id", "body"}
    assert (sent.json()["channel"], sent.json()["sender"]) == (channel["id"], "alex.kim")
    boot = sam.get("/api/boot").json()
    assert {"at", "name", "id"} <= next(c for c in boot["channels"] if c["id"] == channel["id"]).keys()
    assert [m["body"] for m in boot["messages"] if m.get("channel") == channel["id"]] == ["db is slow"]
    # Readable through v2 by anyone (a channel is public).
    assert sam.get(f"/api/v2/messages/{sent.json()['id']}").json()["channel"] == channel["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "general"}, 409),  # loaded by the test team
        ({"name": "GENERAL"}, 409),  # case-folded
        ({"name": "ｇｅｎｅｒａｌ"}, 409),  # NFKC: full-width letters
        ({"name": ""}, 400),
        ({"name": " padded "}, 400),
        ({"name": "x" * 65}, 400),
        ({"name": "bell\u0007"}, 400),
        ({"name": 5}, 422),
        ({"title": "x"}, 422),
    ],
)
def test_bad_or_taken_names(server: LiveServer, body: dict[str, object], status: int) -> None:
    r = server.client("alex.kim").post("/api/channels", json=body)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.strip()


def test_errors_are_plain_text(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    assert alex.post("/api/channels/ch_nope", json={"body": "x"}).status_code == 404
    general = next(c for c in alex.get("/api/boot").json()["channels"] if c["name"] == "general")
    assert alex.post(f"/api/channels/{general['id']}", json={"body": ""}).status_code == 400
    assert alex.post(f"/api/channels/{general['id']}", json={"text": "x"}).status_code == 422
    r = server.client("sam.ortiz").delete(f"/api/channels/{general['id']}")
    assert (r.status_code, r.headers["content-type"].startswith("text/plain")) == (403, True)


def test_idempotent_channel_send(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    general = next(c for c in alex.get("/api/boot").json()["channels"] if c["name"] == "general")
    first = alex.post(f"/api/channels/{general['id']}", json={"body": "once"}, headers={"Idempotency-Key": "k1"})
    again = alex.post(f"/api/channels/{general['id']}", json={"body": "once"}, headers={"Idempotency-Key": "k1"})
    assert first.json() == again.json()
    bodies = [m["body"] for m in alex.get("/api/boot").json()["messages"] if m.get("channel") == general["id"]]
    assert bodies == ["once"]


async def test_channel_events_reach_everyone_and_deletes(server: LiveServer) -> None:
    alex, sam = server.client("alex.kim"), server.client("sam.ortiz")
    token = sam.headers["Authorization"].split()[1]
    point = sam.get("/api/boot").json()["resume_point"]
    async with SSE(server, token, resume_point=point) as stream:
        made = await asyncio.to_thread(lambda: alex.post("/api/channels", json={"name": "ops"}).json())
        sent = await asyncio.to_thread(
            lambda: alex.post(f"/api/channels/{made['id']}", json={"body": "deploying"}).json()
        )
        assert (await asyncio.to_thread(lambda: alex.delete(f"/api/messages/{sent['id']}"))).status_code == 202
        assert (await asyncio.to_thread(lambda: alex.delete(f"/api/channels/{made['id']}"))).status_code == 202
        got = await collect(stream, lambda d: (d["type"], d["event"]) == ("channel", "deleted"))
    kinds = [(d["type"], d["event"]) for _, d in got]
    assert kinds == [("channel", "created"), ("message", "sent"), ("message", "deleted"), ("channel", "deleted")]
    assert got[1][1]["channel"] == made["id"]
    assert made["id"] not in [c["id"] for c in sam.get("/api/boot").json()["channels"]]
    # The name is free again.
    assert alex.post("/api/channels", json={"name": "ops"}).status_code == 202


def test_an_idempotency_key_reused_for_another_kind_of_send_is_refused(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    general = next(c for c in alex.get("/api/boot").json()["channels"] if c["name"] == "general")
    key = {"Idempotency-Key": "shared-key"}
    assert alex.post("/api/v2/messages", json={"to": "jin.park", "body": "dm"}, headers=key).status_code == 200
    r = alex.post(f"/api/channels/{general['id']}", json={"body": "channel"}, headers=key)
    assert (r.status_code, r.headers["content-type"].startswith("text/plain")) == (409, True)
    again = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "dm"}, headers=key)
    assert again.status_code == 200  # the same kind of send still gets its first answer
    assert [m["body"] for m in alex.get("/api/boot").json()["messages"] if m.get("channel")] == []


def test_boot_carries_a_window_and_history_pages_the_rest(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(boot_window=3)
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    general = next(c for c in alex.get("/api/boot").json()["channels"] if c["name"] == "general")["id"]
    sent = [alex.post(f"/api/channels/{general}", json={"body": f"c{i}"}).json()["id"] for i in range(5)]
    for i in range(5):
        jin.post("/api/v2/messages", json={"to": "alex.kim", "body": f"d{i}"})
    boot = alex.get("/api/boot").json()
    assert boot["boot_window"] == 3
    assert [m["body"] for m in boot["messages"] if m.get("channel") == general] == ["c2", "c3", "c4"]
    assert [m["body"] for m in boot["messages"] if m.get("to") == "alex.kim"] == ["d2", "d3", "d4"]
    # Unread counts cover what the window leaves out; the sender has nothing unread.
    assert boot["unread"] == {"jin.park": 5}
    assert jin.get("/api/boot").json()["unread"] == {}

    page = alex.get(f"/api/channels/{general}/messages", params={"before": sent[2], "limit": 1}).json()
    assert ([m["body"] for m in page["messages"]], page["total"], page["next_before"]) == (["c1"], 5, sent[1])
    rest = alex.get(f"/api/channels/{general}/messages", params={"before": sent[1]}).json()
    assert ([m["body"] for m in rest["messages"]], rest["next_before"]) == (["c0"], None)
    newest = alex.get(f"/api/channels/{general}/messages", params={"limit": 2}).json()
    assert [m["body"] for m in newest["messages"]] == ["c3", "c4"]
    assert newest["messages"][0] == next(m for m in boot["messages"] if m["body"] == "c3")


def test_channel_history_refuses_what_is_not_there(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(boot_window=3)
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    general = next(c for c in alex.get("/api/boot").json()["channels"] if c["name"] == "general")["id"]
    dm = jin.post("/api/v2/messages", json={"to": "maya.chen", "body": "private"}).json()["message_id"]
    mine = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "x"}).json()["message_id"]
    cases = [
        ("/api/channels/ch_nope/messages", {}, 404),
        (f"/api/channels/{general}/messages", {"before": dm}, 404),  # not alex's to see
        (f"/api/channels/{general}/messages", {"before": mine}, 400),  # not in this channel
        (f"/api/channels/{general}/messages", {"limit": 0}, 422),
        (f"/api/channels/{general}/messages", {"limit": "x"}, 422),
    ]
    for path, params, status in cases:
        r = alex.get(path, params=params)
        assert (r.status_code, r.headers["content-type"].split(";")[0]) == (status, "text/plain"), (path, params)
    assert httpx.get(f"{server.url}/api/channels/{general}/messages").status_code == 401
