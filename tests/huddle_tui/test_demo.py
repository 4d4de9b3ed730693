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


def test_defect_15_the_demo_story_holds_together(tmp_path: Path) -> None:
    """Jin's OOO says he is back the day after it ends; the notes Maya points to are in #general;
    Jin was last seen over three hours ago, and the seed went through the API (an audit row made
    by the domain, not written past it)."""
    from datetime import datetime, timedelta

    server = DemoServer(tmp_path).start()
    try:
        server.seed()
        alex = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token('alex.kim')}"})
        boot = alex.get("/api/boot").json()
        jin = next(u for u in boot["users"] if u["id"] == "jin.park")
        end = datetime.fromisoformat(jin["ooo"]["endDate"])
        back = (end + timedelta(days=1)).strftime("%A").lower()
        assert jin["ooo"]["message"].startswith(f"back {back}")
        seen = datetime.fromisoformat(jin["last_seen"].replace("Z", "+00:00"))
        assert timedelta(hours=3) < datetime.now(seen.tzinfo) - seen < timedelta(hours=4)
        general = next(c for c in boot["channels"] if c["name"] == "general")
        notes = [m["body"] for m in boot["messages"] if m.get("channel") == general["id"]]
        assert any("deploy notes" in n for n in notes)
        assert general["mentions"] == 1  # and one of them asks alex something
        audits = httpx.get(
            f"{server.url}/presence/jin.park/audits", headers={"Authorization": f"Bearer {server.token('jin.park')}"}
        ).json()
        assert [a["auditType"] for a in audits["audits"]] == ["create"]
    finally:
        server.stop()
