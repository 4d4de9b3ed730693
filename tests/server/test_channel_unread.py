"""Channels signal like DMs: unread counts and mentions in boot, a read marker per reader."""

from __future__ import annotations

import pytest

from server.domain.messaging import mentions
from tests.support import LiveServer


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("@maya.chen can you look?", True),
        ("ping @maya.chen.", True),
        ("(@maya.chen)", True),
        ("cc @maya.chen, @jin.park", True),
        ("mail maya@maya.chen.example", False),
        ("@maya.chenx is someone else", False),
        ("@maya.chen.ops is a team", False),
        ("x@maya.chen", False),
        ("maya.chen without the at", False),
    ],
)
def test_what_a_mention_is(body: str, said: bool) -> None:
    assert mentions(body, "maya.chen") is said


def channel_of(client: object, name: str) -> dict[str, object]:
    boot = client.get("/api/boot").json()  # type: ignore[attr-defined]
    return next(c for c in boot["channels"] if c["name"] == name)


def test_boot_counts_unread_and_mentions_past_my_marker(server: LiveServer) -> None:
    alex, maya = server.client("alex.kim"), server.client("maya.chen")
    general = channel_of(alex, "general")["id"]
    sent = [
        alex.post(f"/api/channels/{general}", json={"body": body}).json()["id"]
        for body in ("morning", "@maya.chen standup?", "and @maya.chenx", "@maya.chen ping")
    ]
    maya.post(f"/api/channels/{general}", json={"body": "my own message does not count"})
    assert channel_of(maya, "general") | {"at": None} == {
        "at": None,
        "name": "general",
        "id": general,
        "unread": 4,
        "mentions": 2,
    }
    assert channel_of(alex, "general")["unread"] == 1  # maya's; alex's own never count
    # Reading up to the second message moves the marker: two left, one of them a mention.
    r = maya.post(f"/api/v2/messages/{sent[1]}/read")
    assert (r.status_code, r.json()["status"], r.json()["read_at"] is not None) == (200, "read", True)
    assert (channel_of(maya, "general")["unread"], channel_of(maya, "general")["mentions"]) == (2, 1)
    # The marker never moves back.
    maya.post(f"/api/v2/messages/{sent[0]}/read")
    assert channel_of(maya, "general")["unread"] == 2
    maya.post(f"/api/v2/messages/{sent[3]}/read")
    assert (channel_of(maya, "general")["unread"], channel_of(maya, "general")["mentions"]) == (0, 0)
    # Nobody else's count moved: a channel has no receipts.
    assert channel_of(server.client("jin.park"), "general")["unread"] == 5
