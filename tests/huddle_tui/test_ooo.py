"""My out of office: a form with real values, errors in its own words, deletion that asks, and
my own OOO visible on my screen; the form fits 80×24."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from textual.widgets import Input, Static

from huddle_tui.screens.confirm import Confirm
from huddle_tui.screens.ooo import OooScreen
from tests.huddle_tui.test_app import SIZE, api, client_for, ready, until
from tests.support import LiveServer


def text(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def test_defect_3_the_form_holds_real_values_and_an_untouched_save_creates_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OooScreen), what="form")
        form = app.screen
        assert form.query_one("#start", Input).value == date.today().isoformat()  # a real value
        assert form.query_one("#end", Input).value == ""  # clearly empty, not a date-looking placeholder
        assert not form.query_one("#end", Input).placeholder[:1].isdigit()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Nothing to save" in text(form, "#ooo-status"), what="said")
        assert api(server, "alex.kim").get("/presence/alex.kim").json()["presenceEntities"] == []  # no entry
        # Saving a real entry shows on my own status line.
        form.query_one("#end", Input).value = "2030-04-19"
        form.query_one("#message", Input).value = "offsite"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Saved" in text(form, "#ooo-status"), what="saved")
        await pilot.press("escape")
        await until(pilot, lambda: "✈ OOO until Fri 19 Apr" in str(app.main.status_bar.render()), what="my OOO shown")


async def test_defect_8_date_errors_in_the_forms_words_under_their_fields_all_at_once(
    server: LiveServer, tmp_path: Path
) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OooScreen), what="form")
        form = app.screen
        form.query_one("#start", Input).value = "2026-13-45"
        form.query_one("#end", Input).value = "next week"
        form.query_one("#message", Input).value = "y" * 300
        await pilot.press("ctrl+s")
        await until(pilot, lambda: text(form, "#end-error"), what="errors shown")
        start, end, message = text(form, "#start-error"), text(form, "#end-error"), text(form, "#message-error")
        assert start == "⚠ 2026-13-45 is not a date: write it as YYYY-MM-DD"
        assert end == "⚠ next week is not a date: write it as YYYY-MM-DD"
        assert message == "⚠ 300 characters: at most 280"
        assert "offset" not in start + end
        assert api(server, "alex.kim").get("/presence/alex.kim").json()["presenceEntities"] == []


async def test_deleting_an_entry_asks_first(server: LiveServer, tmp_path: Path) -> None:
    mine = api(server, "alex.kim")
    entry = mine.post("/presence/create", json={"isActive": True, "message": "at the offsite"}).json()["id"]
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OooScreen), what="form")
        form = app.screen
        listing = form.query_one("#ooo-list")
        await until(pilot, lambda: not listing.get_option_at_index(0).disabled, what="entry listed")  # type: ignore[attr-defined]
        listing.focus()
        listing.highlighted = 0  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: not form.query_one("#delete").disabled, what="editing")
        await pilot.click("#delete")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="asked")
        assert "at the offsite" in str(app.screen.query_one("#confirm-question", Static).render())
        await pilot.press("n")
        await until(pilot, lambda: app.screen is form, what="back, nothing deleted")
        assert mine.get(f"/presence/alex.kim/{entry}").status_code == 200


async def test_defect_9_the_ooo_form_fits_80_by_24(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OooScreen), what="form")
        await pilot.pause(0.2)
        screen = app.screen.region
        for selector in ("#start", "#end", "#message", "#counter", "#active", "#save", "#new", "#delete"):
            region = app.screen.query_one(selector).region
            assert screen.contains_region(region), (selector, region)
            assert region.height >= 1
