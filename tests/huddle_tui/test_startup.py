"""Start-up: the collector pauses while the first screen is built and always comes back."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from huddle_tui import app as app_module
from huddle_tui.app import make_app
from huddle_tui.config import Config
from tests.huddle_tui.test_app import SIZE, client_for, ready, until
from tests.support import LiveServer


async def test_the_collector_resumes_after_the_first_paint_and_thaws_at_exit(
    server: LiveServer, tmp_path: Path
) -> None:
    assert gc.isenabled()
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert not gc.isenabled()  # building the first screen
        await ready(pilot, app)
        await until(pilot, gc.isenabled, what="collector back after the first paint")
        assert gc.get_freeze_count() > 0  # what start-up built
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


async def test_the_collector_resumes_without_a_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(app_module, "START_GC_PAUSE", 0.2)
    app = make_app(Config(server="http://127.0.0.1:9", user="alex.kim", token="t"), data=tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        assert not gc.isenabled()
        await until(pilot, gc.isenabled, within=5, what="collector back with no server")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


async def test_the_collector_is_left_alone_when_it_was_off(server: LiveServer, tmp_path: Path) -> None:
    gc.disable()
    try:
        app = client_for(server, "alex.kim", tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot, app)
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
