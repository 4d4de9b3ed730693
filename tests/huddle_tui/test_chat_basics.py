"""Two real clients on one real server: one edits, deletes, replies, reacts and types, the other
sees each change live; search finds an old message and opens the chat at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from huddle_tui.app import HuddleApp
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, ready, until
from tests.support import LiveServer


def log_of(app: HuddleApp) -> list[str]:
    return app.main.conversation.row_texts()


def shows(app: HuddleApp, text: str) -> bool:
    return any(text in row for row in log_of(app))


async def test_edit_reply_react_delete_and_typing_live(server: LiveServer, tmp_path: Path) -> None:
    alex = client_for(server, "alex.kim", tmp_path / "alex")
    maya = client_for(server, "maya.chen", tmp_path / "maya")
    async with alex.run_test(size=SIZE) as pa, maya.run_test(size=SIZE) as pm:
        await open_chat(pa, alex, "maya.chen")
        await open_chat(pm, maya, "alex.kim")

        # Alex types: Maya sees "Alex Kim is typing…"; he sends: she sees the message, and the line goes.
        await pa.press(*"deploy at **four**")
        typing = maya.main.conversation.typing_line
        await until(pm, lambda: typing.display and "Alex Kim is typing…" in str(typing.render()), what="typing at Maya")
        await pa.press("enter")
        await until(pm, lambda: shows(maya, "deploy at four"), what="the message at Maya")
        assert not any("**" in row for row in log_of(maya))  # Markdown, not literal stars
        await until(pm, lambda: not typing.display, what="the typing line gone once the message came")

        # ↑ in an empty composer edits my last message; Maya sees the new text and "(edited)".
        await pa.press("up")
        mode = alex.main.conversation.mode
        assert mode is not None
        assert mode[0] == "edit"
        alex.main.conversation.composer.text = "deploy at **five**"
        await pa.press("enter")
        await until(pm, lambda: shows(maya, "deploy at five") and shows(maya, "(edited)"), what="the edit at Maya")
        assert not shows(maya, "deploy at four")

        # Maya replies to it from the message cursor: Alex sees the reply with its quote.
        await pm.press("escape", "r")
        assert "replying to" in str(maya.main.conversation.mode_bar.render())
        await pm.press(*"ok, five it is", "enter")
        quoted = "↪ you: deploy at five\nok, five it is"
        await until(pa, lambda: any(quoted in r for r in log_of(alex)), what="the reply with its quote at Alex")

        # Alex reacts to Maya's reply with the first common reaction; Maya sees 👍 1.
        await pa.press("escape")  # the cursor starts on the newest message: Maya's reply
        assert alex.main.conversation.log_view.cursor is not None
        assert alex.main.conversation.log_view.cursor.message.body == "ok, five it is"
        await pa.press("plus")
        await pa.pause()
        await pa.press("1")
        await until(pm, lambda: shows(maya, "👍 1"), what="the reaction at Maya")

        # Alex deletes his own message (asked first): it disappears for Maya, live.
        await pa.press("up")  # to his edited message
        assert alex.main.conversation.log_view.cursor is not None
        assert alex.main.conversation.log_view.cursor.message.body == "deploy at **five**"
        await pa.press("d")
        await pa.pause()
        await pa.press("enter")  # the confirm's default is no: enter alone must not delete
        await pa.pause()
        assert shows(alex, "deploy at five")
        await pa.press("d")
        await pa.pause()
        await pa.press("y")
        for app, pilot in ((maya, pm), (alex, pa)):  # the reply's quote may keep the words; the row goes

            def gone(app: HuddleApp = app) -> bool:
                return not any("deploy at five" in r for r in log_of(app) if "↪" not in r)

            await until(pilot, gone, what="gone for both")
            await until(pilot, lambda app=app: any("↪ a deleted message\nok, five it is" in r for r in log_of(app)))


@pytest.mark.parametrize("older", [40, 60], ids=["in-the-snapshot", "paged-in"])
async def test_search_finds_an_old_message_and_opens_it(server: LiveServer, tmp_path: Path, older: int) -> None:
    jin = api(server, "jin.park")
    jin.post("/api/v2/messages", json={"to": "alex.kim", "body": "the wombat budget is approved"})
    for i in range(older):  # 60 push it out of the snapshot: the client pages it in
        jin.post("/api/v2/messages", json={"to": "alex.kim", "body": f"filler {i}"})
    alex = client_for(server, "alex.kim", tmp_path)
    async with alex.run_test(size=SIZE) as pilot:
        await ready(pilot, alex)
        await pilot.press("ctrl+g")
        await pilot.press(*"wombat", "enter")
        results = alex.screen.query_one("#search-results")
        await until(pilot, lambda: results.option_count == 1, what="one result")  # type: ignore[attr-defined]
        line = str(results.get_option_at_index(0).prompt)  # type: ignore[attr-defined]
        assert line.startswith("Jin Park → you · ")
        assert line.endswith("— the wombat budget is approved")
        await pilot.press("enter")
        conversation = alex.main.conversation
        await until(pilot, lambda: conversation.key is not None and "jin.park" in str(conversation.key))
        log = alex.main.conversation.log_view
        found = lambda: log.cursor is not None and "wombat" in log.cursor.message.body  # noqa: E731
        await until(pilot, found, what="the cursor on the found message")
        assert log.has_focus
        row = log.cursor
        assert row is not None

        def in_view() -> bool:
            return log.scroll_y <= row.virtual_region.y < log.scroll_y + log.scrollable_content_region.height

        await until(pilot, in_view, what="the found message in view")
        await pilot.pause(0.5)
        assert log.cursor is not None
        assert "wombat" in log.cursor.message.body  # and it stays there
        assert in_view()
