"""The main screen's footer (KeyFooter) shows what Textual's Footer would, wherever focus goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from huddle_tui.app import HuddleApp
from huddle_tui.widgets.footer import KeyFooter
from tests.conftest import LiveServer
from tests.huddle_tui.test_app import SIZE, client_for, ready, until


def drawn(app: HuddleApp) -> list[tuple[str, str]]:
    """The keys the footer shows: (key, description)."""
    footer = app.screen.query_one(KeyFooter)
    return [(k.key, k.description) for k in footer.query(FooterKey)]


def expected(app: HuddleApp) -> list[tuple[str, str]]:
    """What Footer.compose would show for the screen's bindings now."""
    seen: dict[str, tuple[str, str]] = {}
    for _key, (_, binding, _enabled, _tip) in app.screen.active_bindings.items():
        if binding.show:
            seen.setdefault(binding.action, (binding.key, binding.description))
    out = list(seen.values())
    palette = app.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
    if palette is not None:
        out.append((palette[1].key, palette[1].description))
    return out


async def settle(pilot: Pilot[Any], app: HuddleApp) -> None:
    await until(pilot, lambda: drawn(app) == expected(app), what=f"footer {drawn(app)} != {expected(app)}")


async def test_the_footer_follows_focus_and_skips_redraws_that_change_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await settle(pilot, app)
        assert ("ctrl+k", "Call") in drawn(app)
        assert ("ctrl+q", "Quit") in drawn(app)
        footer = app.screen.query_one(KeyFooter)
        composed: list[int] = []
        original = footer.recompose

        async def counted() -> None:
            composed.append(1)
            await original()

        footer.recompose = counted  # type: ignore[method-assign]
        shown = set()
        for widget in (app.filter_input, app.conversation.composer, app.contacts, app.filter_input):
            widget.focus()
            await pilot.pause()
            await settle(pilot, app)
            shown.add(tuple(drawn(app)))
        # Focus moved four times; the footer was redrawn only when what it shows changed.
        assert len(composed) <= len(shown)
