"""v2 chat basics: edit, delete, reply, reactions, search, typing — and who may not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.support import LiveServer
from tests.support.events import WS, collect


def dm(client: httpx.Client, to: str, body: str, **extra: Any) -> str:
    r = client.post("/api/v2/messages", json={"to": to, "body": body, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["message_id"])


def general(client: httpx.Client) -> str:
    return next(c["id"] for c in client.get("/api/boot").json()["channels"] if c["name"] == "general")


def test_edit_my_message_shows_everywhere(server: LiveServer) -> None:
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    mid = dm(alex, "jin.park", "standup at 10")
    r = alex.patch(f"/api/v2/messages/{mid}", json={"body": "standup at 11"})
    assert r.status_code == 200
    assert r.json()["body"] == "standup at 11"
    assert r.json()["edited_at"]
    seen = jin.get(f"/api/v2/messages/{mid}").json()
    assert (seen["body"], seen["edited_at"]) == ("standup at 11", r.json()["edited_at"])
    history = jin.get("/api/v2/messages", params={"with": "alex.kim"}).json()["messages"]
    assert history[-1]["edited_at"] == r.json()["edited_at"]
    boot = jin.get("/api/boot").json()
    assert next(m for m in boot["messages"] if m["id"] == mid)["edited_at"]


def test_only_the_sender_edits(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    mid = dm(alex, "jin.park", "mine")
    assert jin.patch(f"/api/v2/messages/{mid}", json={"body": "x"}).status_code == 403
    assert maya.patch(f"/api/v2/messages/{mid}", json={"body": "x"}).status_code == 404  # a stranger: not there
    assert alex.patch(f"/api/v2/messages/{mid}", json={"body": ""}).status_code == 400
    assert alex.patch(f"/api/v2/messages/{mid}", json={"body": "x" * 64_001}).status_code == 400
    assert jin.get(f"/api/v2/messages/{mid}").json()["body"] == "mine"


def test_delete_removes_the_body_everywhere(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    mid = dm(alex, "jin.park", "a secret 7q9z")
    assert maya.delete(f"/api/v2/messages/{mid}").status_code == 404
    assert jin.delete(f"/api/v2/messages/{mid}").status_code == 403
    assert alex.delete(f"/api/v2/messages/{mid}").status_code == 204
    assert jin.get(f"/api/v2/messages/{mid}").status_code == 404
    assert jin.get("/api/v2/search", params={"q": "7q9z"}).json()["total"] == 0

    # Not in storage either: the row, the index and the stored events that carried it.
    def scan(repo: Any) -> list[str]:
        conn = repo.conn
        rows = conn.exec_driver_sql("select body from messages").fetchall()
        events = conn.exec_driver_sql("select variants from events").fetchall()
        return [str(r[0]) for r in rows] + [str(e[0]) for e in events]

    assert not [t for t in server.domain.store.read_sync(scan) if "7q9z" in t]


def test_an_admin_deletes_a_channel_message_but_not_a_dm(server: LiveServer) -> None:
    alex, hr = server.client("alex.kim"), server.client("hr.admin")
    ch = general(alex)
    posted = alex.post(f"/api/channels/{ch}", json={"body": "oops"}).json()["id"]
    mid = dm(alex, "hr.admin", "private")
    assert hr.delete(f"/api/v2/messages/{mid}").status_code == 403
    assert hr.delete(f"/api/v2/messages/{posted}").status_code == 204


def test_replies_name_their_parent_in_the_same_conversation(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    first = dm(alex, "jin.park", "question?")
    answer = dm(jin, "alex.kim", "answer", reply_to=first)
    assert alex.get(f"/api/v2/messages/{answer}").json()["reply_to"] == first
    other = dm(maya, "alex.kim", "unrelated")
    r = jin.post("/api/v2/messages", json={"to": "alex.kim", "body": "x", "reply_to": other})
    assert r.status_code in (400, 404)  # a message jin may not see, or of another conversation
    ch = general(alex)
    root = alex.post(f"/api/channels/{ch}", json={"body": "root"}).json()["id"]
    reply = jin.post(f"/api/channels/{ch}", json={"body": "in thread", "reply_to": root})
    assert reply.status_code == 202
    boot = maya.get("/api/boot").json()
    shown = next(m for m in boot["messages"] if m["id"] == reply.json()["id"])
    assert shown["reply_to"] == root


def test_reactions(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    mid = dm(alex, "jin.park", "shipped")
    assert jin.put(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 200
    assert alex.put(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 200
    assert jin.put(f"/api/v2/messages/{mid}/reactions/👍").status_code == 200
    assert maya.put(f"/api/v2/messages/{mid}/reactions/👍").status_code == 404
    assert alex.get(f"/api/v2/messages/{mid}").json()["reactions"] == {
        "🎉": ["jin.park", "alex.kim"],
        "👍": ["jin.park"],
    }
    assert jin.delete(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 200
    assert alex.get(f"/api/v2/messages/{mid}").json()["reactions"] == {"🎉": ["alex.kim"], "👍": ["jin.park"]}
    for bad in ("notanemoji", "x", "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"):
        assert jin.put(f"/api/v2/messages/{mid}/reactions/{bad}").status_code == 400


def test_search_finds_only_what_i_may_see_newest_first(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    old = dm(alex, "jin.park", "the quarterly rollout plan")
    dm(maya, "alex.kim", "rollout notes for maya and alex")
    ch = general(alex)
    alex.post(f"/api/channels/{ch}", json={"body": "rollout at noon"})
    found = jin.get("/api/v2/search", params={"q": "rollout"}).json()
    assert found["total"] == 2  # his DM and the channel, not maya's DM
    assert [m["message_id"] for m in found["messages"]][-1] == old  # newest first
    assert all("rollout" in m["excerpt"].lower() for m in found["messages"])
    # Edits are found as they are now.
    alex.patch(f"/api/v2/messages/{old}", json={"body": "the quarterly launch plan"})
    assert jin.get("/api/v2/search", params={"q": "rollout"}).json()["total"] == 1
    assert jin.get("/api/v2/search", params={"q": "launch"}).json()["total"] == 1
    page = jin.get("/api/v2/search", params={"q": "rollout", "limit": 1}).json()
    assert (len(page["messages"]), page["total"]) == (1, 1)
    assert jin.get("/api/v2/search", params={"q": ""}).status_code == 400


async def test_typing_is_ephemeral_and_rate_limited(make_server: Callable[..., LiveServer]) -> None:
    server = make_server()
    alex = server.client("alex.kim")
    async with WS(server, server.login("jin.park")) as ws:
        for _ in range(3):
            assert alex.post("/api/v2/typing", json={"to": "jin.park"}).status_code == 204
        dm(alex, "jin.park", "done typing")
        got = await collect(ws, lambda d: d.get("type") == "message")
    typing = [(i, d) for i, d in got if d.get("type") == "typing"]
    assert len(typing) == 1  # three pings within seconds: one event
    assert typing[0][0] is None  # no id: not stored, not replayed
    assert typing[0][1]["user"] == "alex.kim"
    assert alex.post("/api/v2/typing", json={"to": "nobody.here"}).status_code == 404
