"""Alerts that reach a person, activity pings, palette commands and sign-out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from huddle_tui import notify
from huddle_tui.notify import Notifier
from huddle_tui.screens.login import LoginScreen
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, ready, until
from tests.support import LiveServer


def test_osc_notifications_carry_no_control_bytes() -> None:
    written: list[str] = []
    hostile = "Jin\x07; didn't\x1b answer\x9c\x9b2J\x18\x1a\r\nrm -rf ~\x1b]52;c;cm0K\x07" + "x" * 1000
    Notifier("osc", written.append).desktop("Huddle\x9c", hostile)
    assert len(written) == 1
    sequence = written[0]
    prefix, suffix = "\x1b]777;notify;Huddle�;", "\x07"
    assert sequence.startswith(prefix)
    first, second = sequence.split("\x07\x1b]9;")
    payloads = [first.removeprefix(prefix), second.removesuffix(suffix)]
    for payload in payloads:  # nothing in them can end the sequence or start another
        assert not [ch for ch in payload if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch == ";"]
        assert len(payload) <= 250  # capped
    assert payloads[0].startswith("Jin␇, didn't␛ answer�")


def test_notify_send_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    launched: list[list[str]] = []
    monkeypatch.setattr(notify.shutil, "which", lambda name: "/usr/bin/notify-send")
    monkeypatch.setattr(notify.subprocess, "Popen", lambda args, **kw: launched.append(args))
    Notifier("notify-send", lambda s: None).desktop("Huddle", "Missed call from Jin Park")
    assert launched == [["notify-send", "--app-name=Huddle", "--", "Huddle", "Missed call from Jin Park"]]
    Notifier("notify-send", lambda s: None).desktop("Huddle", "-u critical <a href='x'>Jin</a>\x1b]2;t\x07")
    assert launched[-1][-1] == "-u critical ‹a href='x'›Jin‹/a›␛]2,t␇"
    written: list[str] = []
    Notifier("bell", written.append).desktop("Huddle", "x")
    assert written == []


async def test_desktop_alert_when_unfocused_and_quiet_while_dnd(server: LiveServer, tmp_path: Path) -> None:
    maya = api(server, "maya.chen")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "jin.park")
        app.app_focus = False  # the terminal lost focus
        maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "are you there?"})
        await until(pilot, lambda: app.notifier.sent == [("Huddle", "Maya Chen: are you there?")], what="desktop")
        api(server, "alex.kim").patch("/api/v2/users/alex.kim", json={"status": "dnd"})
        await until(pilot, lambda: app.session.state.contacts["alex.kim"].status == "dnd", what="dnd")
        maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "hello?"})
        await until(pilot, lambda: ("message", "Maya Chen: hello?") in app.alerts, what="toast still shown")
        await pilot.pause(0.3)
        assert app.notifier.sent == [("Huddle", "Maya Chen: are you there?")]  # nothing new while dnd


async def test_activity_pings_when_busy_not_when_idle(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await until(pilot, lambda: app.session.pings == 1, what="opening the client is activity")
        await pilot.press("ctrl+f", *"ma")
        await pilot.pause(0.3)
        assert app.session.pings == 1  # at most one a minute
        await pilot.pause(1.0)
        assert app.session.pings == 1  # idle: nothing
        app.session._last_activity -= 61  # a minute later the user types again
        await pilot.press("x")
        await until(pilot, lambda: app.session.pings == 2, what="ping after a minute of typing")


async def test_palette_lists_every_action_and_sign_out_forgets_the_token(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    token = app.config.token
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {
            "Call",
            "Calls",
            "Do not disturb",
            "My out of office",
            "Watch",
            "Sign out",
            "Reconnect",
            "Hide or show my last seen",
            "How others see me",
        } <= titles
        app.toggle_hide_last_seen()
        await until(pilot, lambda: app.session.hidden_last_seen, what="hidden")
        other: Any = api(server, "maya.chen").get("/api/v2/users/alex.kim/status").json()
        assert other["last_seen"] is None
        app.action_sign_out()
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="login screen")
    assert app.config.token == ""
    assert 'token = ""' in (tmp_path / "config.toml").read_text()
    r = await asyncio.to_thread(httpx.get, f"{server.url}/api/v2/users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
