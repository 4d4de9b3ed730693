"""Defects a person living in the client ran into, each by its number in the issue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import Footer

from huddle_tui.app import make_app
from huddle_tui.config import Config
from huddle_tui.screens.login import LoginScreen
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, until
from tests.support import LiveServer


def bodies(app: object) -> list[str]:
    """The messages of the open chat, top to bottom (the body is the third word of a row)."""
    rows = app.main.conversation.row_texts()  # type: ignore[attr-defined]
    return [r.split()[2] for r in rows if r[:2].isdigit() and ":" in r[:5] and "☎" not in r]


async def test_defect_7_my_messages_stay_in_the_servers_order(server: LiveServer, tmp_path: Path) -> None:
    """My client's clock runs two minutes fast (it happens): what I send is still shown where the
    server put it, among the replies, and stays there after switching chats."""
    maya = api(server, "maya.chen")
    typed = [f"m{i:02d}" for i in range(6)]
    cfg = Config(server=server.url, user="alex.kim", token=server.token("alex.kim"))
    fast = make_app(cfg, data=tmp_path / "data", clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    async with fast.run_test(size=SIZE) as pilot:
        await open_chat(pilot, fast, "maya.chen")
        for i, text in enumerate(typed):
            await pilot.press(*text, "enter")
            await until(pilot, lambda: not any("⧗" in r for r in fast.main.conversation.row_texts()), what="sent")
            maya.post("/api/v2/messages", json={"to": "alex.kim", "body": f"r{i:02d}"})
            await until(pilot, lambda i=i: any(f"r{i:02d}" in r for r in fast.main.conversation.row_texts()))
        await pilot.pause(0.3)  # every event in
        expected = [b for pair in zip(typed, [f"r{i:02d}" for i in range(6)], strict=True) for b in pair]
        assert bodies(fast) == expected
        await open_chat(pilot, fast, "jin.park")
        await open_chat(pilot, fast, "maya.chen")
        assert bodies(fast) == expected
    history = maya.get("/api/v2/messages", params={"with": "alex.kim"}).json()["messages"]
    assert [m["body"] for m in history] == expected


async def test_defect_6_a_new_line_has_a_key_that_works_in_tmux_and_says_so(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot, app, "maya.chen")
        composer = app.main.conversation.composer
        assert "ctrl+j" in composer.placeholder  # tmux sends alt+enter as a plain enter
        await pilot.press(*"one", "ctrl+j", *"two")
        assert composer.text == "one\ntwo"
        await pilot.press("enter")
        await until(pilot, lambda: any("one" in r for r in app.main.conversation.row_texts()), what="sent")
    sent = api(server, "maya.chen").get("/api/v2/messages", params={"with": "alex.kim"}).json()["messages"]
    assert [m["body"] for m in sent] == ["one\ntwo"]


async def test_defect_11_the_sign_in_screen_has_only_its_own_keys(server: LiveServer, tmp_path: Path) -> None:
    app = make_app(Config(server=server.url, user="alex.kim"), config_file=None, data=tmp_path / "data")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="sign-in")
        for key in ("ctrl+k", "ctrl+o", "ctrl+w", "ctrl+l", "ctrl+d"):
            await pilot.press(key)
        await pilot.pause(0.2)
        said = [str(t.render()) for t in app.screen.query("Toast")]
        assert not any("Pick a person" in t for t in said), said
        assert isinstance(app.screen, LoginScreen)  # no dialog opened over it
        shown = {b.description for _, b, _e, _t in app.screen.active_bindings.values() if b.show}
        assert not shown & {"Call", "My OOO", "Watch", "Calls", "DnD", "Find"}
        assert app.screen.query_one(Footer) is not None


async def test_each_user_keeps_their_sign_in_and_the_last_one_is_the_default(server: LiveServer) -> None:
    """One saved sign-in per server and user: signing in as someone else no longer replaces it."""
    from huddle_tui import cli
    from huddle_tui.config import config_path
    from tests.support import PASSWORDS

    async def sign_in(app: object, handle: str) -> None:
        async with app.run_test(size=SIZE) as pilot:  # type: ignore[attr-defined]
            await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="sign-in")  # type: ignore[attr-defined]
            app.screen.query_one("#password").value = PASSWORDS[handle]  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: app.session.state.me == handle, what=f"signed in as {handle}")  # type: ignore[attr-defined]

    await sign_in(cli.client(server.url, "alex.kim"), "alex.kim")
    await sign_in(cli.client(server.url, "maya.chen"), "maya.chen")
    last = cli.client()  # no --user: the last one used
    assert (last.config.user, bool(last.config.token)) == ("maya.chen", True)
    alex = cli.client(server.url, "alex.kim")  # alex's sign-in was kept: no password asked
    assert alex.config.token
    async with alex.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: alex.session.state.me == "alex.kim", what="alex without signing in")
        assert not isinstance(alex.screen, LoginScreen)
    assert config_path().stat().st_mode & 0o077 == 0  # still the owner's only


def test_reconnects_come_quickly_after_a_restart_then_back_off() -> None:
    from huddle_tui.events import MAX_BACKOFF, backoff

    waits = [backoff(n) for n in range(1, 40)]
    assert sum(waits[:5]) <= 12  # five tries within ~12 s: a restart is over by then
    assert max(waits[:14]) <= 5
    assert waits[-1] == MAX_BACKOFF
    assert waits == sorted(waits)


async def test_a_long_message_cut_in_the_snapshot_is_shown_whole(server: LiveServer, tmp_path: Path) -> None:
    long = "start " + "x" * 9000 + " the end"
    api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": long})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.state.me == "alex.kim", what="booted")
        cut = [m for chat in app.session.state.chats.values() for m in chat if m.truncated]
        assert len(cut) == 1  # the snapshot carried only its start
        await open_chat(pilot, app, "maya.chen")
        await until(pilot, lambda: any("the end" in r for r in app.main.conversation.row_texts()), what="whole")
        assert not any("the rest is loading" in r for r in app.main.conversation.row_texts())


async def test_defect_9_small_terminals_keep_the_chat_readable(server: LiveServer, tmp_path: Path) -> None:
    from huddle_tui.screens.calls import CallsScreen
    from huddle_tui.screens.help import HelpScreen

    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=(60, 24)) as pilot:
        await open_chat(pilot, app, "maya.chen")
        await pilot.pause(0.2)
        people, chat = app.main.people.size.width, app.main.conversation.size.width
        assert people <= 22
        assert chat >= 36  # 60 columns: the chat keeps most of them
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert not app.main.people.display
        assert app.main.conversation.size.width >= 58
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert app.main.people.display
    app = client_for(server, "alex.kim", tmp_path / "small")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.session.state.me, what="booted")
        for key, screen_type in (("f1", HelpScreen), ("ctrl+l", CallsScreen)):
            await pilot.press(key)
            await until(pilot, lambda t=screen_type: isinstance(app.screen, t), what=key)
            await pilot.pause(0.1)
            box = app.screen.children[0].region
            assert app.screen.region.contains_region(box), (key, box)
            assert app.main.conversation.size.width >= 40  # the help is a dialog: the chat keeps its width
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.main, what="closed")


async def test_a_burst_of_messages_is_one_toast_that_counts(server: LiveServer, tmp_path: Path) -> None:
    """Toasts get out of the way: five messages from Maya while another chat is open are one toast
    ('5 new · Maya Chen: …'), and one desktop notification, not a stack over the screen."""
    maya = api(server, "maya.chen")
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "jin.park")
        app.app_focus = False
        for i in range(5):
            maya.post("/api/v2/messages", json={"to": "alex.kim", "body": f"ping {i}"})
        await until(pilot, lambda: sum(kind == "message" for kind, _ in app.alerts) == 5, what="all five")
        await pilot.pause(0.3)
        toasts = [str(t.render()) for t in app.screen.query("Toast")]
        from_maya = [t for t in toasts if "Maya Chen" in t]
        assert len(from_maya) == 1, toasts
        assert "5 new · Maya Chen: ping 4" in from_maya[0]
        assert len(app.notifier.sent) == 1
