"""Calls as a state machine the user drives with one key, on both sides, without losing typing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from huddle_tui.records import ChatKey
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, ready, shown, until
from tests.support import LiveServer


def status(app: object) -> str:
    return str(app.main.status_bar.render())  # type: ignore[attr-defined]


async def test_defect_1_an_incoming_call_does_not_take_your_typing(server: LiveServer, tmp_path: Path) -> None:
    jin = api(server, "jin.park")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "maya.chen")
        composer = app.main.conversation.composer
        await pilot.press(*"I w")
        call = jin.post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"}).json()
        await until(pilot, lambda: app.main.call_banner.display, what="the call shows")
        assert app.screen is app.main  # no dialog over the chat
        assert app.focused is composer
        await pilot.press(*"as typing, and a d to decline does nothing")
        assert composer.text == "I was typing, and a d to decline does nothing"
        assert jin.get(f"/api/v2/calls/{call['call_id']}").json()["status"] == "ringing"
        assert ("ringing", "☎ Jin Park is calling") in app.alerts  # the bell rang for it
        # ctrl+r declines; the banner goes; the text is still there.
        await pilot.press("ctrl+r")
        await until(pilot, lambda: jin.get(f"/api/v2/calls/{call['call_id']}").json()["status"] == "declined")
        await until(pilot, lambda: not app.main.call_banner.display, what="banner gone")
        assert composer.text.startswith("I was typing")


async def test_defect_2_whoever_answers_can_hang_up_and_be_called_again(server: LiveServer, tmp_path: Path) -> None:
    caller = client_for(server, "alex.kim", tmp_path / "a")
    callee = client_for(server, "jin.park", tmp_path / "j")
    async with caller.run_test(size=SIZE) as pa, callee.run_test(size=SIZE) as pj:
        await ready(pa, caller)
        await ready(pj, callee)
        for round_ in range(2):  # the second time proves the first call really ended
            await open_chat(pa, caller, "jin.park")
            await pa.press("ctrl+k")
            await until(pj, lambda: callee.main.call_banner.display, what=f"ringing in ({round_})")
            callee.main.conversation.composer.focus()
            await pj.press("ctrl+k")  # answers, from the composer
            await until(pj, lambda: "☎ on a call" in status(callee), what="callee on a call")
            await until(pa, lambda: "☎ on a call" in status(caller), what="caller on a call")
            await until(pa, lambda: "☎ on a call with Jin Park · 0:0" in shown(caller, "#chat-header"))
            assert not callee.main.call_banner.display
            await pj.press("ctrl+k")  # the callee hangs up
            await until(pj, lambda: "on a call" not in status(callee), what="callee hung up")
            await until(pa, lambda: "on a call" not in status(caller), what="caller sees it end")
            assert callee.session.state.live_call() is None


async def test_the_caller_hangs_up_with_the_same_key(server: LiveServer, tmp_path: Path) -> None:
    jin = api(server, "jin.park")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "jin.park")
        await pilot.press("ctrl+k")
        await until(pilot, lambda: "☎ ringing Jin Park" in shown(app, "#chat-header"), what="ringing out")
        await until(pilot, lambda: app.session.state.live_call() is not None, what="call known")
        call_id = app.session.state.live_call().call_id  # type: ignore[union-attr]
        await pilot.press("ctrl+k")
        await until(pilot, lambda: jin.get(f"/api/v2/calls/{call_id}").json()["status"] == "cancelled")
        await until(pilot, lambda: "ringing" not in shown(app, "#chat-header"), what="header clear")


async def test_ctrl_k_calls_the_highlighted_row_while_the_list_has_focus(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "jin.park")
        app.main.contacts.focus()
        app.main.contacts.highlighted = app.main.contacts._order.index("dm:maya.chen")
        await pilot.press("ctrl+k")
        await until(pilot, lambda: app.session.state.live_call() is not None, what="a call")
        assert app.session.state.live_call().callee == "maya.chen"  # type: ignore[union-attr]


async def test_do_not_disturb_rings_nothing_and_keeps_the_call_in_the_list(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(ring_timeout=1)
    api(server, "alex.kim").patch("/api/v2/users/alex.kim", json={"status": "dnd"})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        api(server, "jin.park").post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"})
        await until(pilot, lambda: app.main.call_banner.display, what="quiet banner")
        assert app.main.call_banner.has_class("quiet")
        assert "do not disturb" in str(app.main.call_banner.render())
        assert not any(kind == "ringing" for kind, _ in app.alerts)
        await until(pilot, lambda: "☎ 1 missed" in status(app), within=10, what="still a missed call")
        assert app.notifier.sent == []  # nothing loud


async def test_defect_13_the_incoming_call_is_one_line(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        api(server, "jin.park").post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"})
        await until(pilot, lambda: app.main.call_banner.display, what="banner")
        await pilot.pause()
        assert app.main.call_banner.size.height == 1


async def test_the_calls_list_opens_the_chat(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = make_server(ring_timeout=1)
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        api(server, "sam.ortiz").post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"})
        await until(pilot, lambda: "☎ 1 missed" in status(app), within=10, what="missed")
        await pilot.press("ctrl+l")
        await until(pilot, lambda: app.screen is not app.main, what="calls list")
        await pilot.press("enter")
        await until(pilot, lambda: app.main.conversation.key == ChatKey.dm("sam.ortiz"), what="the chat opened")
        assert "missed" not in status(app)
