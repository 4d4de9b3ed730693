"""Deterministic scenes of the real app against a real server, for screenshots (scripts/screenshots.py)
and the snapshot tests (tests/huddle_tui/test_snapshots.py).

The server runs embedded (server.embedded) on a manual clock on the day of the story; the client's
clock is fixed too, and times are shown in UTC, so every run draws the same screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from huddle_tui.app import HuddleApp, make_app
from huddle_tui.config import Config
from huddle_tui.records import ChatKey
from server.cli import main as server_main
from server.dialects.times import parse_rfc3339
from server.domain.clock import ManualClock
from server.embedded import EmbeddedServer
from server.settings import Settings

SIZE = (120, 36)
NOW = "2024-03-15T18:24:00Z"
# The story's people (no passwords: everyone acts with a token).
TEAM = """
[[users]]
handle = "alex.kim"
display_name = "Alex Kim"
team = "infrastructure"

[[users]]
handle = "jin.park"
display_name = "Jin Park"
team = "infrastructure"

[[users]]
handle = "maya.chen"
display_name = "Maya Chen"
team = "infrastructure"

[[users]]
handle = "sam.ortiz"
display_name = "Sam Ortiz"
team = "design"

[[users]]
handle = "hr.admin"
display_name = "HR Admin"
admin = true

[[teams]]
name = "infrastructure"
members = ["alex.kim", "jin.park", "maya.chen"]

[[workspaces]]
name = "platform"
members = ["alex.kim", "maya.chen"]
state = "active"

[[channels]]
name = "general"
"""


def utc() -> None:
    """Local time is UTC for scenes."""
    os.environ["TZ"] = "UTC"
    time.tzset()


class Scene:
    """A server with the story's evening in it, and clients for its people."""

    def __init__(self, root: Path) -> None:
        utc()
        db = root / "scene.db"
        team = root / "team.toml"
        team.write_text(TEAM)
        if server_main(["load", "--db", str(db), str(team)]) != 0:
            raise RuntimeError("could not load the story's team")
        self.clock = ManualClock(parse_rfc3339("2024-03-15T14:47:03Z"))
        settings = Settings(db=db, tick_seconds=0.05, ring_timeout=30)
        self.server = EmbeddedServer(settings, clock=self.clock).start()
        self.root = root

    def at(self, iso: str) -> None:
        """Move the server to a moment of the story and let its timers run."""
        self.clock.set(parse_rfc3339(iso))
        self.server.call(self.server.domain.tick())

    def http(self, handle: str) -> httpx.Client:
        """Someone acting over HTTP (a token without sign-in)."""
        token = self.server.domain.auth.issue_for(handle)
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def story(self) -> None:
        """Jin's last activity, the OOO entry, the unread messages, Maya's replies, the call."""
        alex, jin, maya, sam = (self.http(h) for h in ("alex.kim", "jin.park", "maya.chen", "sam.ortiz"))
        jin.post(
            "/presence/create",
            json={
                "isActive": True,
                "startDate": "2024-03-15T00:00:00+00:00",
                "endDate": "2024-04-19T17:00:00+00:00",
                "message": "back monday, ping maya for infra",
            },
        )
        self.at("2024-03-15T15:01:44Z")
        alex.post("/api/v2/messages", json={"to": "jin.park", "body": "hey, you coming to standup?"})
        self.at("2024-03-15T15:34:19Z")
        alex.post("/api/v2/messages", json={"to": "jin.park", "body": "missed you at standup. everything ok?"})
        self.at("2024-03-15T17:40:00Z")
        sam.post("/api/v2/activity")
        self.at("2024-03-15T18:22:07Z")
        alex.post("/api/v2/messages", json={"to": "jin.park", "body": "jin seriously are you ok? call me"})
        asked = alex.post(
            "/api/v2/messages",
            json={"to": "maya.chen", "body": "have you heard from jin today? he dropped off after lunch"},
        ).json()
        self.at("2024-03-15T18:22:30Z")
        maya.post(f"/api/v2/messages/{asked['message_id']}/read")
        maya.post(
            "/api/v2/messages", json={"to": "alex.kim", "body": "no... that's not like him. did you try calling?"}
        )
        maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "i have his emergency contact"})
        self.at(NOW)

    def client(self, handle: str = "alex.kim", **config: Any) -> HuddleApp:
        """The real client, signed in, with the scene's clock."""
        cfg = Config(server=self.server.url, user=handle, token=self.server.domain.auth.issue_for(handle), **config)
        fixed = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
        return make_app(cfg, config_file=None, data=self.root / f"client-{handle}", clock=lambda: fixed)

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()


async def wait(pilot: Any, cond: Callable[[], Any], within: float = 10.0) -> None:
    """Let the app run until cond() holds (bounded)."""
    deadline = time.monotonic() + within
    while not _holds(cond):
        if time.monotonic() > deadline:
            raise AssertionError(f"scene not ready: {cond}")
        await pilot.pause(0.05)
    await pilot.pause(0.3)


def _holds(cond: Callable[[], Any]) -> bool:
    try:
        return bool(cond())
    except Exception:
        return False


async def open_chat(pilot: Any, app: HuddleApp, handle: str) -> None:
    """Select a contact and open the chat, as a user does with the keyboard."""
    key = ChatKey.dm(handle)
    await wait(pilot, lambda: str(key) in app.main.contacts._order and "● live" in str(app.main.status_bar.render()))
    app.main.contacts.highlighted = app.main.contacts._order.index(str(key))
    app.main.contacts.focus()
    await pilot.press("enter")
    await wait(pilot, lambda: app.main.conversation.key == key and app.main.conversation.row_texts())
