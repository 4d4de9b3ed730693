"""v2 chat basics: edit, delete, reply, reactions, search, typing — and who may not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import LiveServer
from tests.support.events import WS, collect


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Edits, reactions, search and typing answer the same on SQLite and on PostgreSQL."""
    return str(request.param)


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


def pk_of(server: LiveServer, handle: str) -> int:
    user = server.domain.store.read_sync(lambda r: r.get_user_by_handle(handle))
    assert user is not None
    return user.pk


def test_a_third_user_can_do_nothing_with_someone_elses_dm(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    mid = dm(alex, "jin.park", "between us: zq81 plans")
    assert maya.get(f"/api/v2/messages/{mid}").status_code == 404
    assert maya.patch(f"/api/v2/messages/{mid}", json={"body": "mine now"}).json()["error"]["code"] == "MessageNotFound"
    assert maya.delete(f"/api/v2/messages/{mid}").status_code == 404
    assert maya.put(f"/api/v2/messages/{mid}/reactions/👍").status_code == 404
    assert maya.delete(f"/api/v2/messages/{mid}/reactions/👍").status_code == 404
    r = maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "re", "reply_to": mid})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "InvalidReply")
    ch = general(maya)
    r = maya.post(f"/api/channels/{ch}", json={"body": "re", "reply_to": mid})
    assert r.status_code == 400  # pilcrow's text: the reply must be of this channel
    assert maya.get("/api/v2/search", params={"q": "zq81"}).json() == {"messages": [], "total": 0, "next_before": None}
    assert maya.get("/api/v2/search", params={"q": "x", "before": mid}).status_code == 404
    # Nothing of it reached her either: no event about it names her.
    events = server.domain.store.read_sync(lambda r: r.events_after(0, None, 10_000))
    about = [e for e in events if any(v.data.get("id") == mid for v in e.variants)]
    assert about
    assert all(e.for_viewer(pk_of(server, "maya.chen")) is None for e in about)
    assert jin.get("/api/v2/search", params={"q": "zq81"}).json()["total"] == 1


async def test_edits_reactions_and_deletes_are_events_and_a_replay_never_brings_the_body_back(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server()
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    async with WS(server, server.login("jin.park")) as ws:
        mid = dm(alex, "jin.park", "first draft k5x2")
        edited = alex.patch(f"/api/v2/messages/{mid}", json={"body": "second draft k5x2"}).json()
        assert jin.put(f"/api/v2/messages/{mid}/reactions/👍🏽").json() == {
            "message_id": mid,
            "reactions": {"👍🏽": ["jin.park"]},
        }
        assert jin.put(f"/api/v2/messages/{mid}/reactions/👍🏽").status_code == 200  # again: no event
        assert jin.delete(f"/api/v2/messages/{mid}/reactions/👍🏽").json()["reactions"] == {}
        assert alex.delete(f"/api/v2/messages/{mid}").status_code == 204
        got = await collect(ws, lambda d: d.get("event") == "deleted")
    kinds = [(d["type"], d["event"]) for _, d in got]
    assert kinds == [
        ("message", "sent"),
        ("message", "updated"),
        ("reaction", "added"),
        ("reaction", "removed"),
        ("message", "deleted"),
    ]
    updated, added = got[1][1], got[2][1]
    assert (updated["id"], updated["body"]) == (mid, "second draft k5x2")
    assert updated["edited_at"].startswith(edited["edited_at"][:19])
    assert (added["id"], added["emoji"], added["user"]) == (mid, "👍🏽", "jin.park")
    # A replay from the start: the message sent and its edit come back without their bodies.
    async with WS(server, server.login("jin.park"), resume_point=0) as ws:
        replayed = await collect(ws, lambda d: d.get("event") == "deleted")
    carried = [d for _, d in replayed if d.get("id") == mid and "body" in d]
    assert len(carried) == 2
    assert all(d["body"] == "" and d["deleted"] is True for d in carried)
    assert not [d for _, d in replayed if "k5x2" in str(d)]


def test_edit_rules(server: LiveServer) -> None:
    alex, hr = server.client("alex.kim"), server.client("hr.admin")
    ch = general(alex)
    posted = alex.post(f"/api/channels/{ch}", json={"body": "typo"}).json()["id"]
    assert hr.patch(f"/api/v2/messages/{posted}", json={"body": "x"}).json()["error"]["code"] == "NotSender"
    fixed = alex.patch(f"/api/v2/messages/{posted}", json={"body": "fixed"}).json()
    assert (fixed["channel"], fixed["body"]) == (ch, "fixed")
    history = alex.get(f"/api/channels/{ch}/messages").json()["messages"]
    assert next(m for m in history if m["id"] == posted)["edited_at"]
    assert alex.patch(f"/api/v2/messages/{posted}", json={"body": 5}).status_code == 400
    assert alex.patch("/api/v2/messages/msg_0000000000000000", json={"body": "x"}).status_code == 404


def test_at_most_32_different_reactions(server: LiveServer) -> None:
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    mid = dm(alex, "jin.park", "vote")
    faces = [chr(0x1F600 + i) for i in range(33)]
    for face in faces[:32]:
        assert jin.put(f"/api/v2/messages/{mid}/reactions/{face}").status_code == 200
    r = jin.put(f"/api/v2/messages/{mid}/reactions/{faces[32]}")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "TooManyReactions")
    assert alex.put(f"/api/v2/messages/{mid}/reactions/{faces[0]}").status_code == 200  # one already there
    shown = alex.get(f"/api/v2/messages/{mid}").json()["reactions"]
    assert (len(shown), shown[faces[0]]) == (32, ["jin.park", "alex.kim"])
    boot = jin.get("/api/boot").json()
    assert next(m for m in boot["messages"] if m["id"] == mid)["reactions"] == shown


def test_search_pages_prefixes_phrases_and_excerpts(server: LiveServer) -> None:
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    ids = [dm(alex, "jin.park", f"standup notes {i}") for i in range(5)]
    first = jin.get("/api/v2/search", params={"q": "standup", "limit": 2}).json()
    assert ([m["message_id"] for m in first["messages"]], first["total"]) == ([ids[4], ids[3]], 5)
    second = jin.get("/api/v2/search", params={"q": "standup", "limit": 2, "before": first["next_before"]}).json()
    assert [m["message_id"] for m in second["messages"]] == [ids[2], ids[1]]
    assert jin.get("/api/v2/search", params={"q": "stand*"}).json()["total"] == 5
    assert jin.get("/api/v2/search", params={"q": "stand"}).json()["total"] == 0
    phrase = jin.get("/api/v2/search", params={"q": '"notes 3"'}).json()
    assert [m["message_id"] for m in phrase["messages"]] == [ids[3]]
    assert jin.get("/api/v2/search", params={"q": "notes 3 standup"}).json()["total"] == 1  # every word
    long = dm(alex, "jin.park", "x " * 300 + "the Needle here " + "y " * 300)
    hit = jin.get("/api/v2/search", params={"q": "needle"}).json()["messages"][0]
    assert (hit["message_id"], hit["to"], hit["from"]) == (long, "jin.park", "alex.kim")
    assert (hit["excerpt"][0], hit["excerpt"][-1]) == ("…", "…")
    assert len(hit["excerpt"]) <= 162
    assert [hit["excerpt"][a:b] for a, b in hit["matches"]] == ["Needle"]
    for bad in (
        {"q": ""},
        {"q": "   "},
        {"q": '"'},
        {"q": "x" * 201},
        {"q": "a", "limit": 0},
        {"q": "a", "limit": 101},
    ):
        r = jin.get("/api/v2/search", params=bad)
        assert r.status_code == 400, (bad, r.text)
    for odd in ("NEAR(a b)", "a OR b", "body:x", "^x", "-x", "(x", "a AND", "é*", "\\"):
        assert jin.get("/api/v2/search", params={"q": odd}).status_code in (200, 400), odd  # never a 500
    assert jin.get("/api/v2/search", params={"q": "a", "before": "msg_0000000000000000"}).status_code == 404


def test_search_reaches_channels_and_convos(server: LiveServer) -> None:
    alex, jin, maya = (server.client(h) for h in ("alex.kim", "jin.park", "maya.chen"))
    ch = general(alex)
    alex.post(f"/api/channels/{ch}", json={"body": "offsite wq7 agenda"})
    made = alex.post("/api/Convo", json={"Participant": pk_of(server, "jin.park"), "Subject": "s"})
    convo = int(made.headers["X-URI-Reference"].rsplit("/", 1)[-1])
    alex.post(f"/api/Convo/{convo}/Message", json={"Body": "convo wq7 detail"})
    mine = jin.get("/api/v2/search", params={"q": "wq7"}).json()
    assert [("channel" in m, m.get("convo")) for m in mine["messages"]] == [(False, convo), (True, None)]
    assert maya.get("/api/v2/search", params={"q": "wq7"}).json()["total"] == 1  # the channel only


async def test_typing_in_a_channel_and_per_conversation(make_server: Callable[..., LiveServer]) -> None:
    server = make_server()
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    ch = general(alex)
    async with WS(server, server.login("jin.park")) as jin_ws, WS(server, server.login("alex.kim")) as alex_ws:
        assert alex.post("/api/v2/typing", json={"channel": ch}).status_code == 204
        assert alex.post("/api/v2/typing", json={"to": "jin.park"}).status_code == 204  # another conversation
        assert alex.post("/api/v2/typing", json={"channel": ch}).status_code == 204  # dropped
        jin.post(f"/api/channels/{ch}", json={"body": "done"})
        got = await collect(jin_ws, lambda d: d.get("type") == "message")
        mine = await collect(alex_ws, lambda d: d.get("type") == "message")
    assert [(i, d.get("channel"), d.get("to")) for i, d in got if d["type"] == "typing"] == [
        (None, ch, None),
        (None, None, "jin.park"),
    ]
    assert not [d for _, d in mine if d["type"] == "typing"]  # not to the one typing
    for bad in ({}, {"to": "jin.park", "channel": ch}, {"to": 5}, {"channel": "nope"}, {"to": "alex.kim"}):
        assert alex.post("/api/v2/typing", json=bad).status_code in (400, 404), bad


async def test_the_clients_api_speaks_these_routes(server: LiveServer) -> None:
    """huddle_tui.api against the real routes: what it sends is accepted, what it gets parses."""
    from huddle_tui import wire
    from huddle_tui.api import Api
    from huddle_tui.records import ChatKey

    alex = Api(server.url, server.token("alex.kim"))
    jin = Api(server.url, server.token("jin.park"))
    try:
        first, _ = await alex.send("jin.park", "the v9 build is green")
        reply, _ = await jin.send("alex.kim", "great", reply_to=first)
        await alex.edit(first, "the v9 build is green again")
        await jin.react(first, "👍🏽", add=True)
        await jin.typing(ChatKey.dm("alex.kim"))
        page = await alex.history("jin.park")
        shown = {m.id: m for m in page.messages}
        assert shown[first].edited_at is not None
        assert shown[first].reactions == {"👍🏽": ["jin.park"]}
        assert shown[reply].reply_to == first
        found = await jin.search("jin.park", "v9")
        assert (found.total, found.found[0].chat, found.found[0].excerpt) == (
            1,
            ChatKey.dm("alex.kim"),
            "the v9 build is green again",
        )
        boot = wire.boot(await alex.request("GET", "/api/boot"))
        assert next(m for m in boot.messages if m.id == reply).reply_to == first
        await alex.delete(first)
        assert (await jin.search("jin.park", "v9")).total == 0
    finally:
        await alex.close()
        await jin.close()


def test_edits_and_reactions_count_toward_the_send_rate(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(send_rate=4)
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    mid = dm(alex, "jin.park", "one")  # alex: 1
    assert alex.patch(f"/api/v2/messages/{mid}", json={"body": "two"}).status_code == 200  # 2
    assert alex.put(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 200  # 3
    assert alex.delete(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 200  # 4
    r = alex.patch(f"/api/v2/messages/{mid}", json={"body": "three"})
    assert (r.status_code, r.json()["error"]["code"]) == (429, "RateLimited")
    assert alex.put(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 429
    assert jin.put(f"/api/v2/messages/{mid}/reactions/🎉").status_code == 200  # per user
    assert jin.get(f"/api/v2/messages/{mid}").json()["body"] == "two"
