"""The client driven as a person would (Pilot), against a real server on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import Input, Static

from huddle_tui import wire
from huddle_tui.api import Api
from huddle_tui.app import HuddleApp, make_app
from huddle_tui.config import Config
from huddle_tui.records import ChatKey
from huddle_tui.screens.calls import CallsScreen
from huddle_tui.screens.confirm import Confirm
from huddle_tui.screens.login import LoginScreen
from huddle_tui.screens.ooo import OooScreen
from huddle_tui.widgets.conversation import Composer
from tests.support import PASSWORDS, LiveServer, manual_clock

SIZE = (120, 36)


async def until(pilot: Pilot[Any], cond: Callable[[], Any], within: float = 10.0, what: str = "") -> None:
    """Let the app run until cond() holds (bounded)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if cond():
                return
        except Exception:  # not there yet (a widget not mounted, a key not loaded)
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.05)


async def ready(pilot: Pilot[Any], app: HuddleApp) -> None:
    """Signed in, the stream live and the contact list drawn."""
    await until(pilot, lambda: "● live" in str(app.main.status_bar.render()), what="live")
    await until(pilot, lambda: "maya.chen" in rows(app), what="contacts drawn")


def client_for(server: LiveServer, handle: str, tmp_path: Path, **config: Any) -> HuddleApp:
    cfg = Config(server=server.url, user=handle, token=server.token(handle), **config)
    return make_app(cfg, config_file=tmp_path / "config.toml", data=tmp_path / "data")


def api(server: LiveServer, handle: str) -> httpx.Client:
    """Another person's client, straight over HTTP (a token without sign-in: no activity)."""
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token(handle)}"}, timeout=10)


def rows(app: HuddleApp) -> dict[str, str]:
    contacts = app.main.contacts
    chats = [chat for option_id in contacts._order if (chat := ChatKey.parse(option_id)) is not None]
    return {chat.id: contacts.row_text(chat) for chat in chats}  # by handle, or channel id


def chat_of(target: str) -> ChatKey:
    """A handle, or `#<channel id>`, as the chat key."""
    return ChatKey.channel(target[1:]) if target.startswith("#") else ChatKey.dm(target)


def shown(app: HuddleApp, selector: str) -> str:
    widget = app.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def open_chat(pilot: Pilot[Any], app: HuddleApp, handle: str) -> None:
    key = chat_of(handle)
    await until(pilot, lambda: str(key) in app.main.contacts._order, what=f"{handle} in the list")
    app.main.contacts.highlighted = app.main.contacts._order.index(str(key))
    app.main.contacts.focus()
    await pilot.press("enter")
    await until(pilot, lambda: app.main.conversation.key == key)


async def test_contacts_show_presence_ooo_and_unread_at_start(server: LiveServer, tmp_path: Path) -> None:
    maya, jin = api(server, "maya.chen"), api(server, "jin.park")
    jin.post("/presence/create", json={"isActive": True, "message": "back monday"})
    maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "one"})
    maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "two"})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "maya.chen" in rows(app), what="contacts")
        table = rows(app)
        # Maya wrote (activity): active, and her two messages are unread — counted at start-up.
        assert table["maya.chen"].startswith("● Maya Chen")
        assert table["maya.chen"].rstrip().endswith("2")
        assert "✈ OOO" in table["jin.park"]
        assert table["sam.ortiz"].startswith("○ Sam Ortiz")  # never seen
        # Unread first, then active, then the rest; grouped by team, channels at the end.
        order = app.main.contacts._order
        assert order.index("dm:maya.chen") < order.index("dm:jin.park") < order.index("dm:sam.ortiz")
        assert order[0] == "team:infrastructure"
        assert order[-1].startswith("channel:")
        status = str(app.main.status_bar.render())
        assert "alex.kim" in status
        await until(pilot, lambda: "● live" in str(app.main.status_bar.render()), what="live")


async def test_presence_updates_live_and_only_that_row(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        before = rows(app)
        assert before["jin.park"].startswith("○")
        api(server, "jin.park").post("/api/v2/activity")
        await until(pilot, lambda: rows(app)["jin.park"].startswith("● Jin Park"), what="jin active")
        after = rows(app)
        assert "now" in after["jin.park"]
        assert {k: v for k, v in after.items() if k != "jin.park"} == {
            k: v for k, v in before.items() if k != "jin.park"
        }


async def test_chat_receipts_delivered_then_read(server: LiveServer, tmp_path: Path) -> None:
    maya = api(server, "maya.chen")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "maya.chen")
        await pilot.press(*"are you around?")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: any("are you around?" in r and r.endswith("✓") for r in app.main.conversation.row_texts()),
            what="delivered tick",
        )
        sent = maya.get("/api/v2/messages", params={"from": "alex.kim"}).json()["messages"]
        assert [m["body"] for m in sent] == ["are you around?"]
        maya.post(f"/api/v2/messages/{sent[0]['message_id']}/read")
        await until(pilot, lambda: any("✓✓" in r for r in app.main.conversation.row_texts()), what="read ticks")
        assert sum("are you around?" in r for r in app.main.conversation.row_texts()) == 1  # shown once
        row = next(r for r in app.main.conversation.row_texts() if "are you around?" in r)
        assert row.split("✓✓")[1].strip().count(":") == 1  # ✓✓ HH:MM


async def test_incoming_is_read_only_when_on_screen(server: LiveServer, tmp_path: Path) -> None:
    maya = api(server, "maya.chen")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "jin.park")
        first = maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "ping"}).json()
        await until(pilot, lambda: rows(app)["maya.chen"].rstrip().endswith("1"), what="unread badge")
        await pilot.pause(0.5)
        assert maya.get(f"/api/v2/messages/{first['message_id']}").json()["read_at"] is None
        await open_chat(pilot, app, "maya.chen")
        await until(
            pilot, lambda: maya.get(f"/api/v2/messages/{first['message_id']}").json()["read_at"], what="read on screen"
        )
        await until(pilot, lambda: not rows(app)["maya.chen"].rstrip().endswith("1"), what="badge cleared")
        # A new message arriving in the open chat is read at once too.
        second = maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "pong"}).json()
        await until(
            pilot,
            lambda: maya.get(f"/api/v2/messages/{second['message_id']}").json()["read_at"],
            what="new message read in the open chat",
        )


async def test_new_message_elsewhere_alerts(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "jin.park")
        api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": "lunch?"})
        await until(pilot, lambda: ("message", "Maya Chen: lunch?") in app.alerts, what="alert")
        await until(
            pilot, lambda: any("Maya Chen: lunch?" in str(t.render()) for t in app.screen.query("Toast")), what="toast"
        )


async def test_ooo_banner_and_stale_hint(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    server = make_server(clock=manual_clock(start.isoformat()))
    jin = api(server, "jin.park")
    jin.post(
        "/presence/create",
        json={
            "isActive": True,
            "startDate": "2024-01-01T00:00:00+00:00",
            "endDate": "2099-04-19T17:00:00+00:00",
            "message": "back monday",
        },
    )
    alex = api(server, "alex.kim")
    for body in ("hey", "you ok?", "call me"):
        alex.post("/api/v2/messages", json={"to": "jin.park", "body": body})
    server.clock.advance(600)  # type: ignore[union-attr]
    server.call(server.domain.tick())  # Jin idles away
    cfg = Config(server=server.url, user="alex.kim", token=server.token("alex.kim"), stale_hours=4)
    six_hours_later = start + timedelta(hours=6)
    app = make_app(cfg, config_file=None, data=tmp_path, clock=lambda: six_hours_later)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "jin.park")
        await until(pilot, lambda: shown(app, "#ooo-banner"), what="banner")
        assert shown(app, "#ooo-banner") == "✈ Out of office until Sun 19 Apr — back monday"
        seen_at = start.astimezone().strftime("%H:%M")
        assert shown(app, "#chat-header") == f"Jin Park ─ ◒ away · seen 6h ago ({seen_at})"
        assert "✈ OOO" in rows(app)["jin.park"]
        await until(pilot, lambda: shown(app, "#stale-hint"), what="hint")
        assert shown(app, "#stale-hint") == "⚠ Jin hasn't been active for 6h and has 3 unread messages from you."


async def test_call_nobody_answers_alerts_caller_and_callee(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(ring_timeout=1)
    caller = client_for(server, "alex.kim", tmp_path / "a")
    callee = client_for(server, "jin.park", tmp_path / "j")
    async with caller.run_test(size=SIZE, notifications=True) as pa, callee.run_test(size=SIZE) as pj:
        await ready(pa, caller)
        await ready(pj, callee)
        await open_chat(pa, caller, "jin.park")
        await pa.press("ctrl+k")
        await until(pa, lambda: "☎ ringing Jin Park" in shown(caller, "#chat-header"), what="ringing")
        await until(pj, lambda: callee.main.call_banner.display, what="incoming banner")
        await until(
            pa, lambda: ("no_answer", "☎ Jin Park didn't answer") in caller.alerts, within=15, what="didn't answer"
        )
        await until(
            pa, lambda: any("didn't answer" in str(t.render()) for t in caller.screen.query("Toast")), what="toast"
        )
        assert "missed" not in str(caller.main.status_bar.render())  # my own call nobody answered: not missed
        await until(
            pa,
            lambda: any("you called Jin — no answer" in r for r in caller.main.conversation.row_texts()),
            what="call line",
        )
        await until(pj, lambda: ("missed_call", "☎ Missed call from Alex Kim") in callee.alerts, what="missed")
        await until(pj, lambda: not callee.main.call_banner.display, what="banner gone")
        await until(pj, lambda: "☎ 1 missed" in str(callee.main.status_bar.render()))
        # Looking at the calls list clears the badge.
        await pj.press("ctrl+l")
        await until(pj, lambda: isinstance(callee.screen, CallsScreen))
        await pj.press("escape")
        await until(pj, lambda: "missed" not in str(callee.main.status_bar.render()), what="badge cleared")


async def test_calls_missed_while_closed_are_shown_at_start(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(ring_timeout=0.2)
    api(server, "jin.park").post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"})
    await asyncio.sleep(0.5)
    server.call(server.domain.tick())
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: ("missed_call", "☎ You missed 1 call while you were away") in app.alerts)
        await until(pilot, lambda: "☎ 1 missed" in str(app.main.status_bar.render()))
    # Seen once, not alerted again next time.
    app2 = client_for(server, "alex.kim", tmp_path)
    async with app2.run_test(size=SIZE) as pilot:
        await ready(pilot, app2)
        await pilot.press("ctrl+l")
        await pilot.press("escape")
    app3 = client_for(server, "alex.kim", tmp_path)
    async with app3.run_test(size=SIZE) as pilot:
        await ready(pilot, app3)
        await pilot.pause(0.3)
        assert not any(kind == "missed_call" for kind, _ in app3.alerts)


async def test_a_slow_missed_calls_answer_holds_nothing_up(
    make_server: Callable[..., LiveServer], tmp_path: Path, monkeypatch: Any
) -> None:
    """Missed calls are asked for with the snapshot and applied when they come: the list and the
    event stream do not wait for them."""
    server = make_server(ring_timeout=0.2)
    api(server, "jin.park").post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"})
    await asyncio.sleep(0.5)
    server.call(server.domain.tick())
    gate = asyncio.Event()
    real_calls = Api.calls

    async def held_calls(self: Api, **kwargs: Any) -> list[dict[str, Any]]:
        answer = await real_calls(self, **kwargs)
        await gate.wait()
        return answer

    monkeypatch.setattr(Api, "calls", held_calls)
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)  # the list drawn and the stream live, the missed calls still held
        assert not any(kind == "missed_call" for kind, _ in app.alerts)
        gate.set()
        await until(pilot, lambda: ("missed_call", "☎ You missed 1 call while you were away") in app.alerts)


async def test_dnd_toggle_and_watch(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    alex = api(server, "alex.kim")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: alex.get("/api/v2/users/alex.kim/status").json()["status"] == "dnd")
        await until(pilot, lambda: "⊘ dnd: on" in str(app.main.status_bar.render()), what="dnd shown")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: alex.get("/api/v2/users/alex.kim/status").json()["status"] != "dnd")
        await open_chat(pilot, app, "jin.park")
        await pilot.press("ctrl+w")
        await until(pilot, lambda: "⚑" in rows(app)["jin.park"], what="the row shows the watch")
    # A watch outlives the client: the next run still watches, and tells.
    again = client_for(server, "alex.kim", tmp_path)
    async with again.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot, again)
        assert "⚑" in rows(again)["jin.park"]
        api(server, "jin.park").post("/api/v2/activity")
        await until(pilot, lambda: ("watch", "● Jin Park is active now") in again.alerts, what="watch alert")
        await until(pilot, lambda: "⚑" not in rows(again)["jin.park"], what="no longer watched")


async def test_filter_as_you_type(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "maya.chen" in rows(app))
        await pilot.press("ctrl+f", *"may")
        await until(pilot, lambda: list(rows(app)) == ["maya.chen"], what="filtered")


async def test_defect_14_enter_in_the_find_box_opens_the_first_match_at_once(
    server: LiveServer, tmp_path: Path
) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "maya.chen" in rows(app))
        # Typed fast, with a second enter and more text right behind: the chat opens, and what
        # follows goes to its composer.
        await pilot.press("ctrl+f", *"gen", "enter", "enter", *"hi all")
        await until(pilot, lambda: app.main.conversation.key is not None, what="opened")
        assert app.main.conversation.key.is_channel  # type: ignore[union-attr]
        assert app.focused is app.main.conversation.composer
        assert app.main.conversation.composer.text == "hi all"
        assert app.main.filter_input.value == ""  # the whole list is back
        await until(pilot, lambda: {"maya.chen", "jin.park"} <= set(rows(app)), what="the list unfiltered")
        # Escape leaves the find box as it was found: empty, typing in the open chat.
        await pilot.press("ctrl+f", *"zz", "escape")
        assert app.main.filter_input.value == ""
        await until(pilot, lambda: app.focused is app.main.conversation.composer, what="back to the composer")
        # Down goes into the list on the first match instead.
        await pilot.press("ctrl+f", *"jin", "down")
        assert app.focused is app.main.contacts
        assert app.main.contacts.selected_chat == ChatKey.dm("jin.park")
        await pilot.press("enter")
        await until(pilot, lambda: app.main.conversation.key == ChatKey.dm("jin.park"), what="the chat opened")


async def test_sign_in_explains_errors_and_saves_token_0600(server: LiveServer, tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    app = make_app(
        Config(server="http://127.0.0.1:9", user="alex.kim"), config_file=config_file, data=tmp_path / "data"
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        app.screen.query_one("#password", Input).value = "x"
        await pilot.click("#sign-in")
        error = app.screen.query_one("#login-error", Static)
        await until(pilot, lambda: "Cannot reach" in str(error.render()), what="server down explained")
        app.screen.query_one("#server", Input).value = server.url
        app.screen.query_one("#password", Input).value = "wrong"
        await pilot.click("#sign-in")
        await until(pilot, lambda: "Wrong user or password." in str(error.render()), what="bad password")
        app.screen.query_one("#password", Input).value = PASSWORDS["alex.kim"]
        await pilot.click("#sign-in")
        await until(pilot, lambda: not isinstance(app.screen, LoginScreen), what="signed in")
        await ready(pilot, app)
    saved = Config.load(config_file)
    assert (saved.server, saved.user) == (server.url, "alex.kim")
    assert len(saved.token) > 20
    assert stat.S_IMODE(os.stat(config_file).st_mode) == 0o600


async def test_ooo_form_creates_and_shows_errors_by_the_field(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OooScreen))
        screen = app.screen
        screen.query_one("#message", Input).value = "x" * 281
        await pilot.pause()
        assert str(screen.query_one("#counter", Static).render()) == "281/280"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "280" in str(screen.query_one("#message-error", Static).render()), what="error")
        screen.query_one("#message", Input).value = "back monday"
        screen.query_one("#start", Input).value = "2030-04-20"
        screen.query_one("#end", Input).value = "2030-04-19"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "after" in str(screen.query_one("#end-error", Static).render()), what="range")
        screen.query_one("#start", Input).value = "2030-04-15"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Saved" in str(screen.query_one("#ooo-status", Static).render()), what="saved")
    entries = api(server, "alex.kim").get("/presence/alex.kim").json()["presenceEntities"]
    assert [(e["message"], e["isActive"]) for e in entries] == [("back monday", True)]
    assert entries[0]["startDate"].startswith("2030-04-1")


async def test_reconnect_resumes_and_sends_what_was_typed_offline_once(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "maya.chen")
        await ready(pilot, app)
        server.stop()
        await until(pilot, lambda: "reconnecting" in str(app.main.status_bar.render()), what="link lost")
        app.query_one(Composer).focus()
        await pilot.press(*"sent while offline")
        await pilot.press("enter")
        await until(pilot, lambda: any("⧗ sending" in r for r in app.main.conversation.row_texts()), what="pending")
        await until(pilot, lambda: "⧗ 1 to send" in str(app.main.status_bar.render()))
        # The server comes back; something happens before the client is reconnected.
        server = server.restarted()
        try:
            api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": "you there?"})
            app.reconnect()
            await until(pilot, lambda: "● live" in str(app.main.status_bar.render()), within=20, what="live again")
            await until(
                pilot,
                lambda: any("you there?" in r for r in app.main.conversation.row_texts()),
                what="missed message shown",
            )
            await until(pilot, lambda: "to send" not in str(app.main.status_bar.render()), what="outbox empty")
            await until(
                pilot,
                lambda: any("sent while offline" in r and r.endswith("✓") for r in app.main.conversation.row_texts()),
                what="sent",
            )
            mine = api(server, "maya.chen").get("/api/v2/messages", params={"from": "alex.kim"}).json()
            assert [m["body"] for m in mine["messages"]] == ["sent while offline"]  # exactly once
        finally:
            server.stop()


async def test_history_pages_back_when_scrolled_to_the_top(server: LiveServer, tmp_path: Path) -> None:
    maya = api(server, "maya.chen")
    for i in range(70):
        maya.post("/api/v2/messages", json={"to": "alex.kim", "body": f"message {i}"})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "maya.chen")
        await until(pilot, lambda: any("message 69" in r for r in app.main.conversation.row_texts()))
        server_page = maya.get("/api/v2/messages", params={"with": "alex.kim", "limit": 50}).json()
        assert server_page["next_before"] is not None
        log = app.query_one("#log")
        log.scroll_to(y=5, animate=False)
        await pilot.pause()
        log.scroll_home(animate=False)
        await until(
            pilot,
            lambda: (
                app.session.state.history_cursor.get("maya.chen") is None
                or any("message 0" in r for r in app.main.conversation.row_texts())
            ),
            what="older page",
        )


async def test_channels_are_readable_and_writable(server: LiveServer, tmp_path: Path) -> None:
    sam = api(server, "sam.ortiz")
    general = next(c for c in sam.get("/api/boot").json()["channels"] if c["name"] == "general")
    sam.post(f"/api/channels/{general['id']}", json={"body": "standup moved to 10"})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert rows(app)[general["id"]].startswith("# general")
        await open_chat(pilot, app, f"#{general['id']}")
        await until(pilot, lambda: any("standup moved to 10" in r for r in app.main.conversation.row_texts()))
        assert str(app.main.conversation.header.render()).startswith("# general")
        await pilot.press(*"thanks sam", "enter")
        await until(
            pilot,
            lambda: any(m["body"] == "thanks sam" for m in sam.get("/api/boot").json()["messages"]),
            what="posted to the channel",
        )
        await until(pilot, lambda: not any("⧗" in r for r in app.main.conversation.row_texts()), what="sent")
        assert sum("thanks sam" in r for r in app.main.conversation.row_texts()) == 1


async def test_a_pruned_resume_point_means_a_fresh_boot(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = make_server(clock=manual_clock(datetime.now(UTC).replace(microsecond=0).isoformat()), event_retention=60)
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "maya.chen")
        await ready(pilot, app)
        server = server.restarted()
        try:
            api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": "after the gap"})
            server.clock.advance(3600)  # type: ignore[union-attr]
            server.domain._last_prune = 0
            server.call(server.domain.tick())  # everything the client had not seen is pruned
            app.reconnect()
            await until(
                pilot,
                lambda: any("after the gap" in r for r in app.main.conversation.row_texts()),
                within=20,
                what="re-booted and shown",
            )
            await until(pilot, lambda: "● live" in str(app.main.status_bar.render()), what="live again")
        finally:
            server.stop()


async def test_a_flood_of_presence_events_updates_the_right_rows(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        people = ["maya.chen", "jin.park", "sam.ortiz", "hr.admin"]
        for i in range(500):
            status = "active" if i % 2 else "dnd"
            presence = {"type": "presence", "event": "changed", "user": people[i % 4], "status": status}
            app.session.receive(None, wire.event({**presence, "last_seen": None, "ooo": None}))
        # The last event of each person wins; rows catch up within a few frames.
        await until(
            pilot,
            lambda: rows(app)["hr.admin"].startswith("● HR Admin") and rows(app)["maya.chen"].startswith("⊘ Maya Chen"),
            what="rows caught up",
        )


async def test_ooo_form_edits_and_deletes(server: LiveServer, tmp_path: Path) -> None:
    mine = api(server, "alex.kim")
    created = mine.post("/presence/create", json={"isActive": True, "message": "at the offsite"}).json()
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OooScreen))
        screen = app.screen
        listing = screen.query_one("#ooo-list")
        await until(pilot, lambda: listing.option_count == 1 and not listing.get_option_at_index(0).disabled)
        listing.focus()
        listing.highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: screen.query_one("#message", Input).value == "at the offsite", what="loaded")
        screen.query_one("#message", Input).value = "offsite, back thursday"
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: mine.get(f"/presence/alex.kim/{created['id']}").json().get("message") == "offsite, back thursday",
            what="updated",
        )
        await until(
            pilot,
            lambda: listing.option_count == 1 and "back thursday" in str(listing.get_option_at_index(0).prompt),
            what="list refreshed",
        )
        listing.highlighted = 0
        listing.focus()
        await pilot.press("enter")
        await until(pilot, lambda: not screen.query_one("#delete").disabled)
        await pilot.click("#delete")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="asked first")
        await pilot.press("y")
        await until(pilot, lambda: mine.get(f"/presence/alex.kim/{created['id']}").status_code == 404, what="deleted")
        assert str(screen.query_one("#ooo-mode", Static).render()) == "New entry"


async def test_a_boot_window_still_counts_and_pages_everything(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(boot_window=3)
    jin = api(server, "jin.park")
    general = next(c for c in jin.get("/api/boot").json()["channels"] if c["name"] == "general")["id"]
    for i in range(5):
        jin.post("/api/v2/messages", json={"to": "alex.kim", "body": f"dm {i}"})
        jin.post(f"/api/channels/{general}", json={"body": f"channel {i}"})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        # Boot carried 3 of Jin's 5 DMs; the badge still says 5.
        assert rows(app)["jin.park"].rstrip().endswith("5")
        await open_chat(pilot, app, f"#{general}")
        # Boot carried 3 of the 5; a log too short to scroll fetches the older ones by itself.
        assert len([m for m in jin.get("/api/boot").json()["messages"] if m.get("channel") == general]) == 3
        await until(pilot, lambda: any("channel 0" in r for r in app.main.conversation.row_texts()), what="older page")
        texts = app.main.conversation.row_texts()
        assert [sum(f"channel {i}" in r for r in texts) for i in range(5)] == [1] * 5
        # Reading the newest DM reads them all, those boot left out included.
        await open_chat(pilot, app, "jin.park")
        await until(pilot, lambda: not rows(app)["jin.park"].rstrip().endswith("5"), what="read")
        await until(pilot, lambda: app.session.state.contacts["jin.park"].unread == 0, what="no unread")
