"""Snapshots of the main screens at 120x36, from the real app against a real server (scripts/scenes.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.scenes import SIZE, Scene, open_chat, wait


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """The story's evening on a real server."""
    built = Scene(tmp_path)
    built.story()
    yield built
    built.stop()


def test_main_screen_with_read_receipts(snap_compare: Callable[..., bool], scene: Scene) -> None:
    app = scene.client()

    async def run_before(pilot: Any) -> None:
        await open_chat(pilot, app, "maya.chen")
        await wait(pilot, lambda: any("✓✓" in r for r in app.main.conversation.row_texts()))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_ooo_banner_and_stale_hint(snap_compare: Callable[..., bool], scene: Scene) -> None:
    app = scene.client(stale_hours=2)

    async def run_before(pilot: Any) -> None:
        await open_chat(pilot, app, "jin.park")
        await wait(pilot, lambda: app.main.conversation.banner.display and app.main.conversation.hint.display)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_ooo_form(snap_compare: Callable[..., bool], scene: Scene) -> None:
    app = scene.client()

    async def run_before(pilot: Any) -> None:
        await wait(pilot, lambda: "● live" in str(app.main.status_bar.render()))
        await pilot.press("ctrl+o")
        await wait(pilot, lambda: app.screen.query("#ooo-list"))
        await pilot.press(*"2024-03-25", "tab", *"2024-03-29", "tab", *"at the offsite")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
