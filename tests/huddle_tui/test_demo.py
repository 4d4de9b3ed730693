"""`huddle demo`'s server: its passwords are made new for each run."""

from __future__ import annotations

from pathlib import Path

import httpx

from huddle_tui.demo import DemoServer


def login(server: DemoServer, handle: str, password: str) -> int:
    """The status of a v2 sign-in."""
    return httpx.post(f"{server.url}/api/v2/auth/login", json={"user": handle, "password": password}).status_code


def test_the_demo_passwords_are_new_for_each_run(tmp_path: Path) -> None:
    """Two runs, two member passwords; the old fixed one ("demo") opens nothing, the admin has one of its own."""
    roots = [tmp_path / "one", tmp_path / "two"]
    servers = []
    try:
        for root in roots:
            root.mkdir()
            servers.append(DemoServer(root).start())
        first, second = servers
        assert first.password != second.password
        assert len(first.password) >= 16
        assert "demo" not in (roots[0] / "team.toml").read_text()
        assert login(first, "maya.chen", first.password) == 200
        assert login(first, "maya.chen", second.password) == 401
        assert login(first, "hr.admin", "demo") == 401
        assert login(first, "hr.admin", first.password) == 401
    finally:
        for server in servers:
            server.stop()
