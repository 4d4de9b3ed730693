"""A real server for tests: the app embedded on 127.0.0.1 (server.embedded), the test team, a manual clock."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from server.cli import main as server_main
from server.dialects.times import parse_rfc3339
from server.domain.clock import Clock, ManualClock
from server.embedded import EmbeddedServer
from server.settings import Settings

TEAM_TOML = """
[[users]]
handle = "alex.kim"
display_name = "Alex Kim"
password = "alex-pass"
team = "infrastructure"

[[users]]
handle = "jin.park"
display_name = "Jin Park"
password = "jin-pass"
team = "infrastructure"

[[users]]
handle = "maya.chen"
display_name = "Maya Chen"
password = "maya-pass"
team = "infrastructure"

[[users]]
handle = "sam.ortiz"
display_name = "Sam Ortiz"
password = "sam-pass"
team = "design"

[[users]]
handle = "hr.admin"
display_name = "HR Admin"
password = "hr-pass"
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
PASSWORDS = {
    "alex.kim": "alex-pass",
    "jin.park": "jin-pass",
    "maya.chen": "maya-pass",
    "sam.ortiz": "sam-pass",
    "hr.admin": "hr-pass",
}


class LiveServer(EmbeddedServer):
    """The real app under uvicorn on a free localhost port, in a thread, with sign-in helpers."""

    def __init__(self, settings: Settings, clock: Clock | None, port: int = 0) -> None:
        super().__init__(settings, clock=clock, port=port)

    def restarted(self) -> LiveServer:
        """Stop, and start again on the same port and database (as after a crash or deploy)."""
        self.stop()
        return LiveServer(self.settings, self.clock, self.port).start()

    def token(self, handle: str) -> str:
        """A token as `huddle-server token` prints it: no sign-in, so no activity."""
        return self.domain.auth.issue_for(handle)

    def login(self, handle: str) -> str:
        """Sign in with the test team's password; the token."""
        r = httpx.post(f"{self.url}/api/v2/auth/login", json={"user": handle, "password": PASSWORDS[handle]})
        r.raise_for_status()
        return str(r.json()["token"])

    def client(self, handle: str | None = None) -> httpx.Client:
        """An HTTP client, signed in as `handle` when given."""
        headers = {"Authorization": f"Bearer {self.login(handle)}"} if handle else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def load_team(db: Path | str, text: str = TEAM_TOML) -> None:
    """Create users the way an operator does: `huddle-server load` (on a SQLite file or a PostgreSQL URL)."""
    with tempfile.TemporaryDirectory() as folder:
        path = (db.parent if isinstance(db, Path) else Path(folder)) / "team.toml"
        path.write_text(text)
        assert server_main(["load", "--db", str(db), str(path)]) == 0


def manual_clock(iso: str) -> ManualClock:
    """A ManualClock starting at an RFC 3339 time."""
    return ManualClock(parse_rfc3339(iso))
