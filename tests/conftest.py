"""Shared fixtures: platform dirs in tmp_path, and a real server on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import Server, create_app, uvicorn_config
from server.cli import main as server_main
from server.domain.clock import Clock, ManualClock
from server.domain.core import Domain
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


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real config or data directories."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


class LiveServer:
    """The real app under uvicorn on a free localhost port, in a thread."""

    def __init__(self, settings: Settings, clock: Clock | None, port: int = 0) -> None:
        self.settings = settings
        self.clock = clock
        self.app = create_app(settings, clock=clock)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # The same uvicorn settings as `huddle-server serve` (timeouts, limits, no WS compression).
        self._server = Server(uvicorn_config(settings, self.app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def restarted(self) -> LiveServer:
        """Stop, and start again on the same port and database (as after a crash or deploy)."""
        self.stop()
        return LiveServer(self.settings, self.clock, self.port).start()

    def token(self, handle: str) -> str:
        """A token as `huddle-server token` prints it: no sign-in, so no activity."""
        user = self.domain.store.read_sync(lambda repo: repo.get_user_by_handle(handle))
        assert user is not None
        return str(self.domain.auth.issue_sync(user.pk))

    @property
    def domain(self) -> Domain:
        domain: Domain = self.app.state.domain
        return domain

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (e.g. domain.tick())."""
        assert self.loop is not None
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout=15)

    def login(self, handle: str) -> str:
        r = httpx.post(f"{self.url}/api/v2/auth/login", json={"user": handle, "password": PASSWORDS[handle]})
        r.raise_for_status()
        return str(r.json()["token"])

    def client(self, handle: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.login(handle)}"} if handle else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def load_team(db: Path, text: str = TEAM_TOML) -> None:
    """Create users the way an operator does: `huddle-server load`."""
    path = db.parent / "team.toml"
    path.write_text(text)
    assert server_main(["load", "--db", str(db), str(path)]) == 0


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers; each gets a fresh database with the test team unless told otherwise."""
    started: list[LiveServer] = []

    def make(*, clock: Clock | None = None, team: str | None = TEAM_TOML, **overrides: Any) -> LiveServer:
        db = overrides.pop("db", None) or tmp_path / f"server{len(started)}" / "huddle.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        if team is not None:
            load_team(db, team)
        settings = Settings(db=db, **{"tick_seconds": 0.05, **overrides})
        server = LiveServer(settings, clock).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    """A real server with the test team, on the system clock."""
    return make_server()


def manual_clock(iso: str) -> ManualClock:
    """A ManualClock starting at an RFC 3339 time."""
    from server.domain.timefmt import parse_rfc3339

    return ManualClock(parse_rfc3339(iso))
