"""The server out of reach: presence stops claiming "active now", and a start without the
server shows what was known last time, marked as such."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from huddle_tui import presence
from huddle_tui.app import make_app
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, ready, rows, shown, until
from tests.support import LiveServer


def status(app: object) -> str:
    return str(app.main.status_bar.render())  # type: ignore[attr-defined]


async def test_defect_5_with_the_server_gone_nobody_is_shown_active_now(
    make_server: Callable[..., LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence, "STALE_AFTER", timedelta(seconds=0.5))
    server = make_server()
    api(server, "maya.chen").post("/api/v2/activity")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await open_chat(pilot, app, "maya.chen")
        assert rows(app)["maya.chen"].startswith("● Maya Chen")
        server.stop()
        await until(pilot, lambda: rows(app)["maya.chen"].startswith("◌ Maya Chen"), what="shown as last known")
        assert "active now" not in shown(app, "#chat-header")
        assert "active when last known" in shown(app, "#chat-header")
        server = server.restarted()
        try:
            await until(pilot, lambda: "● live" in status(app), within=15, what="back")
            await until(pilot, lambda: not rows(app)["maya.chen"].startswith("◌"), what="current again")
        finally:
            server.stop()


async def test_defect_10_a_start_without_the_server_shows_the_last_snapshot(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": "see you at 10"})
    first = client_for(server, "alex.kim", tmp_path)
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot, first)
    # The client closed (and kept its snapshot); the server is down when it starts again.
    server.stop()
    app = make_app(first.config, config_file=None, data=tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "maya.chen" in rows(app), what="contacts from the cache")
        assert "alex.kim" in status(app)  # who I am, not an empty name
        assert "☂" not in status(app)
        assert "offline" in status(app)
        assert rows(app)["maya.chen"].startswith("◌ Maya")  # last known active, not active now
        assert " now " not in rows(app)["maya.chen"]
        await open_chat(pilot, app, "maya.chen")
        await until(pilot, lambda: any("see you at 10" in r for r in app.main.conversation.row_texts()), what="history")


async def test_without_a_cache_the_start_says_who_i_am(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = make_server()
    app = client_for(server, "alex.kim", tmp_path)
    server.stop()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "offline" in status(app), what="offline")
        assert rows(app) == {}  # nothing known: nothing made up
        assert "alex.kim" in status(app)
        assert "☂" not in status(app)


async def test_defect_5_a_teammate_who_quits_is_away_at_once(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(stream_grace=0.2)
    alex = client_for(server, "alex.kim", tmp_path / "a")
    maya = client_for(server, "maya.chen", tmp_path / "m")
    async with alex.run_test(size=SIZE) as pilot:
        await ready(pilot, alex)
        async with maya.run_test(size=SIZE) as mp:
            await until(mp, lambda: "● live" in status(maya), what="maya live")
            await until(pilot, lambda: rows(alex)["maya.chen"].startswith("● Maya"), what="maya active")
        # Maya quit: not "active now" for minutes, away within a heartbeat.
        await until(pilot, lambda: rows(alex)["maya.chen"].startswith("◒ Maya"), within=10, what="maya away")
