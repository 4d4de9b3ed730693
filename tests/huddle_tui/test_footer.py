"""The main screen's footer (KeyFooter) shows what Textual's Footer would, wherever focus goes,
and a click on a key presses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.pilot import Pilot

from huddle_tui.app import HuddleApp
from huddle_tui.widgets.footer import KeyFooter
from tests.huddle_tui.test_app import SIZE, client_for, ready, until
from tests.support import LiveServer


def footer(app: HuddleApp) -> KeyFooter:
    return app.screen.query_one(KeyFooter)


def drawn(app: HuddleApp) -> list[tuple[str, str]]:
    """The keys the footer shows: (key, description), the command palette's last."""
    shown = footer(app)
    keys = [*shown.keys, *([shown.palette] if shown.palette else [])]
    return [(k.key, k.description) for k in keys]


def expected(app: HuddleApp) -> list[tuple[str, str]]:
    """The focused widget's own shown bindings first, then the screen's, in the order the screen
    and then the app declare them (the same wherever focus is), the command palette's last."""
    active: dict[str, Binding] = {}
    for _, b, _enabled, _tip in app.screen.active_bindings.values():
        if b.show:
            active.setdefault(b.action, b)  # a key with two names ("d,delete") shows its first
    declared = [b.action for b in (*type(app.screen).BINDINGS, *type(app).BINDINGS) if isinstance(b, Binding)]
    ordered = [a for a in active if a not in declared] + [a for a in dict.fromkeys(declared) if a in active]
    out = [(active[a].key, active[a].description) for a in ordered]
    palette = app.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
    if palette is not None:
        out.append((palette[1].key, palette[1].description))
    return out


def line(app: HuddleApp) -> str:
    """The footer's line as it is on screen."""
    return "".join(segment.text for segment in app.screen.get_widget_at(0, SIZE[1] - 1)[0].render_line(0))


async def settle(pilot: Pilot[Any], app: HuddleApp) -> None:
    await until(pilot, lambda: drawn(app) == expected(app), what=f"footer {drawn(app)} != {expected(app)}")


async def test_the_footer_follows_focus_and_a_click_presses_a_key(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await settle(pilot, app)
        assert ("ctrl+k", "Call") in drawn(app)
        assert ("ctrl+q", "Quit") in drawn(app)
        first = drawn(app)
        for widget in (app.main.filter_input, app.main.conversation.composer, app.main.contacts, app.main.filter_input):
            widget.focus()
            await pilot.pause()
            await settle(pilot, app)
            await pilot.pause()
            text = line(app)
            at = [text.index(f" {description} ") for _key, description in drawn(app)]
            assert at == sorted(at), (drawn(app), text)  # every key, in order
            assert drawn(app) == first  # defect 12: the same keys in the same order wherever focus is
        assert [d for _k, d in first][:3] == ["Call", "My OOO", "DnD"]

        # The message cursor's keys lead while it has focus (at 80 columns they would be cut off
        # at the end), and the screen's follow in their usual order.
        app.main.conversation.log_view.focus()
        await until(pilot, lambda: app.focused is app.main.conversation.log_view)
        await settle(pilot, app)
        assert [d for _k, d in drawn(app)][:3] == ["Reply", "React", "Edit"]
        assert [k for k in drawn(app) if k in first] == first
        app.main.contacts.focus()
        await until(pilot, lambda: app.focused is app.main.contacts)
        await settle(pilot, app)
        assert drawn(app) == first
        assert line(app).rstrip().endswith(footer(app).palette.description)  # type: ignore[union-attr]

        app.main.contacts.focus()
        await pilot.pause()
        at = line(app).index(" Find ")
        await pilot.click(KeyFooter, offset=(at + 1, 0))
        await until(pilot, lambda: app.focused is app.main.filter_input, what="a click on Find did not press ctrl+f")
