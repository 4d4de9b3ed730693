"""The contact list with more people than fit: rows are drawn when first shown, and right."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from huddle_tui.widgets.contact_list import LazyOption, contact_row
from tests.huddle_tui.test_app import SIZE, client_for, until
from tests.support import LiveServer

PEOPLE = 120


def big_team() -> str:
    users = "".join(
        f'[[users]]\nhandle = "p{i:03d}"\ndisplay_name = "Person {i:03d}"\npassword = "pw-{i:03d}"\n\n'
        for i in range(PEOPLE)
    )
    members = ", ".join(f'"p{i:03d}"' for i in range(PEOPLE))
    return f'{users}[[teams]]\nname = "big"\nmembers = [{members}]\n'


def drawn(app: object) -> set[str]:
    options = app.main.contacts._options_by_key.values()  # type: ignore[attr-defined]
    return {o.id for o in options if isinstance(o, LazyOption) and o._draw is None}


async def test_only_rows_on_screen_are_drawn_until_shown(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(team=big_team())
    app = client_for(server, "p000", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        contacts = app.main.contacts
        await until(pilot, lambda: len(contacts._order) == PEOPLE, what="every contact listed")
        await pilot.pause()
        on_screen = contacts.scrollable_content_region.height
        first = drawn(app)
        # A screenful (and Textual's look-ahead), not all 119 people.
        assert 0 < len(first) <= on_screen + 10 < PEOPLE - 1
        last = contacts._order[-1]
        assert last not in first
        contacts.focus()
        await pilot.press("end")
        await until(pilot, lambda: last in drawn(app), what="the last row drawn once shown")
        # A row not drawn yet shows, when asked, what drawing it then would show.
        undrawn = next(k for k in contacts._order if k.startswith("dm:p") and k not in drawn(app))
        option = contacts.get_option(undrawn)
        expected = contact_row(app.session.state.contacts[undrawn[3:]], contacts.clock(), contacts._width)
        assert str(option.prompt) == str(expected)
        assert undrawn in drawn(app)
