"""Properties of the event log, receipts and idempotency, over random sequences of actions."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huddle_tui import wire
from huddle_tui.store import State
from server.settings import Settings
from tests.support import LiveServer, load_team

pytestmark = pytest.mark.reliability
PEOPLE = ["alex.kim", "jin.park", "maya.chen"]

action = st.one_of(
    st.tuples(st.just("dm"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("read"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("status"), st.sampled_from(PEOPLE), st.sampled_from(["dnd", None])),
    st.tuples(st.just("ping"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("channel"), st.sampled_from(PEOPLE), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("call"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE)),
    # The chat basics (issue 20): on the newest DM `who` sent to / has with someone.
    st.tuples(st.just("edit"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("delete"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE)),
    st.tuples(st.just("react"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.sampled_from(["🎉", "👍"])),
    st.tuples(st.just("reply"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.text(min_size=1, max_size=20)),
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, httpx.Client]]]:
    """One server for every example (each example starts from whatever the last one left)."""
    db: Path = tmp_path_factory.mktemp("props") / "huddle.db"
    load_team(db)
    # A small boot window, so chats outgrow it within the run (boot carries the newest 5).
    server = LiveServer(Settings(db=db, tick_seconds=0.05, boot_window=5), None).start()
    clients = {
        h: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token(h)}"}, timeout=10)
        for h in PEOPLE
    }
    yield server, clients
    server.stop()


def act(clients: dict[str, httpx.Client], general: str, step: tuple[Any, ...]) -> None:
    kind, who = step[0], step[1]
    c = clients[who]
    if kind == "dm" and step[2] != who and step[3].strip():
        assert c.post("/api/v2/messages", json={"to": step[2], "body": step[3]}).status_code == 200
    elif kind == "read":
        for partner in PEOPLE:
            if partner == who:
                continue
            newest = c.get("/api/v2/messages", params={"from": partner, "limit": 1}).json()["messages"]
            if newest:
                assert c.post(f"/api/v2/messages/{newest[0]['message_id']}/read").status_code == 200
    elif kind == "status":
        assert c.patch(f"/api/v2/users/{who}", json={"status": step[2]}).status_code == 200
    elif kind == "ping":
        assert c.post("/api/v2/activity").status_code == 204
    elif kind == "channel" and step[2].strip():
        assert c.post(f"/api/channels/{general}", json={"body": step[2]}).status_code == 202
    elif kind in ("edit", "delete", "react", "reply") and step[2] != who:
        chat_basics(c, step)
    elif kind == "call" and step[2] != who:
        r = c.post("/api/v2/calls", json={"to": step[2], "type": "audio"})
        if r.status_code == 200:
            c.post(f"/api/v2/calls/{r.json()['call_id']}/end")


def chat_basics(c: httpx.Client, step: tuple[Any, ...]) -> None:
    """Edit or delete the newest DM `who` sent to someone; react to (or take back a reaction to), or
    reply to, the newest message of their DM."""
    kind, partner = step[0], step[2]
    mine = kind in ("edit", "delete")
    params = {"to": partner} if mine else {"with": partner}
    newest = c.get("/api/v2/messages", params={**params, "limit": 1}).json()["messages"]
    if not newest:
        return
    mid = newest[0]["message_id"]
    if kind == "edit" and step[3].strip():
        assert c.patch(f"/api/v2/messages/{mid}", json={"body": step[3]}).status_code == 200
    elif kind == "delete":
        assert c.delete(f"/api/v2/messages/{mid}").status_code == 204
    elif kind == "react":
        path = f"/api/v2/messages/{mid}/reactions/{step[3]}"
        answer = c.get(f"/api/v2/messages/{mid}").json()
        me = c.get("/api/boot").json()["user"]["name"]
        there = me in answer["reactions"].get(step[3], [])
        assert (c.delete(path) if there else c.put(path)).status_code == 200
    elif kind == "reply" and step[3].strip():
        body = {"to": partner, "body": step[3], "reply_to": mid}
        assert c.post("/api/v2/messages", json=body).status_code == 200


def seen_by(server: LiveServer, viewer: str, after: int, upto: int) -> list[tuple[int, dict[str, Any]]]:
    """The events a viewer's stream carries in (after, upto], straight from the log."""
    domain = server.domain
    pk = domain.store.read_sync(lambda r: r.get_user_by_handle(viewer)).pk  # type: ignore[union-attr]
    events = domain.store.read_sync(lambda r: r.events_after(after, upto, 100_000))
    out = []
    for event in events:
        index = event.for_viewer(pk)
        if index is not None:
            out.append((event.id, json.loads(json.dumps(event.variants[index].data))))
    return out


def summary(state: State, window: int, shown: dict[Any, int] | None = None) -> dict[str, Any]:
    """What a user sees; of each chat the newest `window` messages (what boot carries), or as many as
    `shown` says for that chat."""
    shown = shown or {}
    return {
        "contacts": {h: (c.status, c.last_seen, c.ooo, c.display_name) for h, c in state.contacts.items()},
        "chats": {
            k: [
                (m.id, m.sender, m.body, m.read_at, m.edited_at, m.reply_to, m.reactions)
                for m in ms[-shown.get(k, window) :]
            ]
            for k, ms in state.chats.items()
            if ms
        },
        "channels": {i: c.name for i, c in state.channels.items()},
        "unread": {h: c.unread for h, c in state.contacts.items()},
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(action, min_size=1, max_size=12), viewer=st.sampled_from(PEOPLE))
def test_boot_before_plus_events_equals_boot_after(
    live: tuple[LiveServer, dict[str, httpx.Client]], steps: list[tuple[Any, ...]], viewer: str
) -> None:
    server, clients = live
    before = clients[viewer].get("/api/boot").json()
    general = next(c["id"] for c in before["channels"] if c["name"] == "general")
    for step in steps:
        act(clients, general, step)
    after = clients[viewer].get("/api/boot").json()
    folded = State()
    folded.apply_boot(wire.boot(before))
    for event_id, data in seen_by(server, viewer, before["resume_point"], after["resume_point"]):
        folded.apply(event_id, wire.event(data))
    fresh = State()
    fresh.apply_boot(wire.boot(after))
    # Chats outgrow the window: this also checks that unread counts hold beyond it.
    window = after["boot_window"]
    assert window > 0
    # A message deleted from a window lets an older one into the new boot that the folded state
    # never had: compare as many of the newest as the folded state still holds.
    deleted = any(step[0] == "delete" for step in steps)
    shown = {k: min(window, len(ms)) for k, ms in folded.chats.items()} if deleted else None
    assert summary(folded, window, shown) == summary(fresh, window, shown)
    assert folded.resume_point <= after["resume_point"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8))
def test_read_receipts_never_move_backwards(live: tuple[LiveServer, dict[str, httpx.Client]], order: list[int]) -> None:
    _, clients = live
    sent = [
        clients["alex.kim"].post("/api/v2/messages", json={"to": "maya.chen", "body": f"r{i}"}).json()["message_id"]
        for i in range(5)
    ]
    first_read: dict[str, str] = {}
    for index in order:
        answer = clients["maya.chen"].post(f"/api/v2/messages/{sent[index]}/read").json()
        for message_id in sent:
            read_at = clients["alex.kim"].get(f"/api/v2/messages/{message_id}").json()["read_at"]
            if message_id in first_read:
                assert read_at == first_read[message_id]  # set once, never changed
            elif read_at is not None:
                first_read[message_id] = read_at
        assert answer["status"] == "read"
    # Everything up to the newest one read is read; nothing after it is.
    newest = max(order)
    statuses = [clients["alex.kim"].get(f"/api/v2/messages/{m}").json()["status"] for m in sent]
    assert statuses == ["read"] * (newest + 1) + ["delivered"] * (4 - newest)
    assert clients["maya.chen"].post("/api/v2/messages/msg_unknown/read").status_code == 404


def test_concurrent_retries_of_one_key_make_one_message(live: tuple[LiveServer, dict[str, httpx.Client]]) -> None:
    server, _ = live
    token = server.token("jin.park")

    def send(_: int) -> tuple[int, str]:
        r = httpx.post(
            f"{server.url}/api/v2/messages",
            json={"to": "alex.kim", "body": "once only"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "retry-storm"},
            timeout=10,
        )
        return r.status_code, r.text

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, range(24)))
    assert {a for a in answers} == {answers[0]}
    assert answers[0][0] == 200
    alex = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token('alex.kim')}"})
    bodies = [
        m["body"] for m in alex.get("/api/v2/messages", params={"from": "jin.park", "limit": 200}).json()["messages"]
    ]
    assert bodies.count("once only") == 1
