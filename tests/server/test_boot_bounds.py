"""Boot's size whatever others post: long bodies cut (and flagged), all bodies within a budget."""

from __future__ import annotations

from collections.abc import Callable

from server.domain.messaging import preview
from tests.support import LiveServer


def test_preview_cuts_whole_characters_within_the_bytes() -> None:
    """A body over the limit keeps the whole characters that fit in it, in UTF-8."""
    assert preview("hello", 5) == ("hello", False)
    assert preview("hello!", 5) == ("hello", True)
    assert preview("é" * 3, 6) == ("ééé", False)
    assert preview("é" * 4, 7) == ("ééé", True)  # 2 bytes each: 3 fit in 7
    assert preview("😀" * 30, 10) == ("😀😀", True)  # 4 bytes each
    assert preview("a😀", 4) == ("a", True)
    assert preview("", 0) == ("", False)
    assert preview("x", 0) == ("", True)


def test_boot_cuts_long_bodies_and_flags_them(make_server: Callable[..., LiveServer]) -> None:
    """--boot-body-bytes 100: a longer body comes cut, with `truncated: true`; the whole is a GET by id away."""
    server = make_server(boot_body_bytes=100)
    jin, alex = server.client("jin.park"), server.client("alex.kim")
    long = "😀" * 30 + "é" * 100
    short = "x" * 100
    ids = [jin.post("/api/v2/messages", json={"to": "alex.kim", "body": b}).json()["message_id"] for b in (long, short)]
    boot = {m["id"]: m for m in alex.get("/api/boot").json()["messages"]}
    assert boot[ids[0]]["body"] == "😀" * 25
    assert boot[ids[0]]["truncated"] is True
    assert boot[ids[1]]["body"] == short
    assert "truncated" not in boot[ids[1]]
    # NUL characters are text like any other (SQLite's text functions would stop at them).
    nul = [
        jin.post("/api/v2/messages", json={"to": "alex.kim", "body": b}).json()["message_id"]
        for b in ("a\x00b", "\x00" + "x" * 200)
    ]
    boot = {m["id"]: m for m in alex.get("/api/boot").json()["messages"]}
    assert (boot[nul[0]]["body"], "truncated" in boot[nul[0]]) == ("a\x00b", False)
    assert (boot[nul[1]]["body"], boot[nul[1]]["truncated"]) == ("\x00" + "x" * 99, True)
    whole = alex.get(f"/api/v2/messages/{ids[0]}").json()
    assert whole["body"] == long
    # Where bodies are whole (channel history, events) nothing is flagged.
    general = alex.get("/api/boot").json()["channels"][0]["id"]
    alex.post(f"/api/channels/{general}", json={"body": long})
    history = alex.get(f"/api/channels/{general}/messages").json()["messages"]
    assert history[-1]["body"] == long
    assert "truncated" not in history[-1]


def test_boot_bodies_share_a_budget_spent_on_the_newest(make_server: Callable[..., LiveServer]) -> None:
    """--boot-body-budget 500: ten bodies of 100 bytes; the newest five come whole, the older five empty and flagged."""
    server = make_server(boot_body_budget=500)
    jin, maya = server.client("jin.park"), server.client("maya.chen")
    general = maya.get("/api/boot").json()["channels"][0]["id"]
    for n in range(10):
        assert jin.post(f"/api/channels/{general}", json={"body": f"{n}" * 100}).status_code == 202
    messages = maya.get("/api/boot").json()["messages"]
    assert [m["body"] for m in messages] == [""] * 5 + [f"{n}" * 100 for n in range(5, 10)]
    assert [m.get("truncated", False) for m in messages] == [True] * 5 + [False] * 5


def test_an_emoji_flood_into_new_channels_leaves_boot_small(make_server: Callable[..., LiveServer]) -> None:
    """With the defaults: 40 posts of 64,000 emoji into 4 new channels. Each body in everyone's boot is at
    most 4 KiB (it was 256 KB each: 10 MB here, 51 MB for 200 posts in bench/abuse_caps.py)."""
    server = make_server(send_rate=0)
    alex, maya = server.client("alex.kim"), server.client("maya.chen")
    before = len(maya.get("/api/boot").content)
    channels = [alex.post("/api/channels", json={"name": f"flood-{c}"}).json()["id"] for c in range(4)]
    for n in range(40):
        body = f"{n:02d}" + "😀" * 63_990
        assert alex.post(f"/api/channels/{channels[n % 4]}", json={"body": body}).status_code == 202
    answer = maya.get("/api/boot")
    messages = answer.json()["messages"]
    assert len(messages) == 40
    assert all(m["truncated"] and len(m["body"].encode()) <= 4096 for m in messages)
    assert len(answer.content) - before < 40 * 4096 + 40 * 300
