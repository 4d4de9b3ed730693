"""Channels that signal (defect 4): unread counts like DMs, mentions marked and alerted with
the sender and the channel's name, ctrl+n to what is waiting, mentions first."""

from __future__ import annotations

from pathlib import Path

import pytest

from huddle_tui.records import ChatKey
from huddle_tui.store import mentions as client_mentions
from server.domain.messaging import mentions as server_mentions
from tests.huddle_tui.test_app import SIZE, api, client_for, ready, rows, until
from tests.support import LiveServer


@pytest.mark.parametrize(
    "body", ["@alex.kim hi", "hi @alex.kim.", "a@alex.kim", "@alex.kimx", "@alex.kim.ops", "(@alex.kim)", "@@alex.kim"]
)
def test_client_and_server_agree_on_what_a_mention_is(body: str) -> None:
    assert client_mentions(body, "alex.kim") is server_mentions(body, "alex.kim")


async def test_defect_4_channels_count_unread_mark_mentions_and_ctrl_n_goes_there(
    server: LiveServer, tmp_path: Path
) -> None:
    sam, maya = api(server, "sam.ortiz"), api(server, "maya.chen")
    general = next(c["id"] for c in sam.get("/api/boot").json()["channels"] if c["name"] == "general")
    for body in ("deploy at 3", "@alex.kim can you watch it?", "thanks all"):
        sam.post(f"/api/channels/{general}", json={"body": body})
    maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "lunch?"})
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot, app)
        row = rows(app)[general]
        assert row.startswith("# general")
        assert row.rstrip().endswith("@   3")  # three unread, one of them mentions me
        # ctrl+n: the mention first.
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.main.conversation.key == ChatKey.channel(general), what="general opened")
        await until(pilot, lambda: not rows(app)[general].rstrip().endswith("3"), what="read once seen")
        marked = [r for r in app.main.conversation.query(".message.mention")]
        assert len(marked) == 1
        # Then the DM; then nothing.
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.main.conversation.key == ChatKey.dm("maya.chen"), what="the DM next")
        await pilot.pause(0.3)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: any("Nothing unread" in str(t.render()) for t in app.screen.query("Toast")))
        # Live: channel chatter only counts; a mention alerts, with who and where.
        before = list(app.alerts)
        sam.post(f"/api/channels/{general}", json={"body": "coffee anyone"})
        await until(pilot, lambda: rows(app)[general].rstrip().endswith("1"), what="counted")
        assert app.alerts == before
        sam.post(f"/api/channels/{general}", json={"body": "@alex.kim the deploy is stuck"})
        await until(
            pilot,
            lambda: ("mention", "@ Sam Ortiz in # general: @alex.kim the deploy is stuck") in app.alerts,
            what="mention alerted",
        )
        assert rows(app)[general].rstrip().endswith("@   2")
    # The server keeps the marker: a new client starts with the same counts.
    again = client_for(server, "alex.kim", tmp_path / "again")
    async with again.run_test(size=SIZE) as pilot:
        await ready(pilot, again)
        assert rows(again)[general].rstrip().endswith("@   2")
