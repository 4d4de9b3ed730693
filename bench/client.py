"""Client workloads, headless (run_test): C1 start-up with many contacts, C2 a presence storm."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path
from typing import Any

from rich.segment import Segment
from textual.app import App
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import OptionList, Static

from bench.servers import start_huddle
from bench.workloads import ms
from huddle_tui.app import make_app
from huddle_tui.config import Config
from huddle_tui.records import ChatKey
from huddle_tui.widgets.contact_list import ContactList
from huddle_tui.wire import event


class Empty(App[None]):
    """The floor for C1: an empty Textual app."""

    def compose(self) -> Any:
        yield Static("empty")


class BareList(ScrollView):
    """The lightest list Textual paints: rows already made, one strip a line."""

    def __init__(self, rows: list[str]) -> None:
        super().__init__()
        self.rows = rows
        self.virtual_size = Size(max(map(len, rows)), len(rows))

    def render_line(self, y: int) -> Strip:
        """Row y of what is scrolled into view."""
        index = int(self.scroll_offset.y) + y
        if index >= len(self.rows):
            return Strip.blank(self.size.width)
        return Strip([Segment(self.rows[index])])


class Reference(App[None]):
    """For scale in C1: the same number of rows, already in memory (no server, no other
    widget), in a BareList or in Textual's stock OptionList."""

    def __init__(self, rows: list[str], stock: bool) -> None:
        super().__init__()
        self.rows, self.stock = rows, stock

    def compose(self) -> Any:
        yield OptionList(*self.rows) if self.stock else BareList(self.rows)


async def _startup(app: App[None]) -> float:
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        return time.perf_counter() - t0


async def c1(root: Path, contacts: int, rounds: int) -> dict[str, Any]:
    """Start-up until the contact list shows every contact, against an empty app's start-up;
    for scale, the same rows already in memory in a bare list and in a stock OptionList."""
    server = start_huddle(root / "c1", users=contacts + 1)
    rows = [f"● u{i:04d}{'now':>24}" for i in range(contacts + 1)]
    try:
        ours, floor, bare, stock = [], [], [], []
        for i in range(rounds):
            floor.append(await _startup(Empty()))
            bare.append(await _startup(Reference(rows, stock=False)))
            stock.append(await _startup(Reference(rows, stock=True)))
            app = make_app(
                Config(server=server.url, user="u0000", token=server.tokens["u0000"]), data=root / f"c1-data-{i}"
            )
            t0 = time.perf_counter()
            async with app.run_test(size=(120, 36)) as pilot:
                while len(app.main.contacts._order) < contacts + 1:
                    if time.perf_counter() - t0 > 60:
                        raise TimeoutError("contacts never painted")
                    await pilot.pause(0.01)
                await pilot.pause()
                ours.append(time.perf_counter() - t0)
    finally:
        server.stop()

    def ratio(times: list[float]) -> float:
        return round(sorted(times)[len(times) // 2] / sorted(floor)[len(floor) // 2], 2)

    return {
        "huddle": {**ms(ours), "contacts": contacts},
        "floor": ms(floor),
        "ratio_p50": ratio(ours),
        "bare_list": {**ms(bare), "ratio_p50": ratio(bare)},
        "option_list": {**ms(stock), "ratio_p50": ratio(stock)},
    }


async def c2(root: Path, contacts: int, rate: int, seconds: float) -> dict[str, Any]:
    """`rate` presence events a second for `seconds`: lag until the row shows it, and memory."""
    server = start_huddle(root / "c2", users=contacts + 1)
    lags: list[float] = []
    posted: dict[str, float] = {}
    original = ContactList.flush

    def timed_flush(self: ContactList) -> None:
        dirty = set(self._dirty)
        original(self)
        now = time.perf_counter()
        for key in dirty:
            if key in posted:
                lags.append(now - posted.pop(key))

    ContactList.flush = timed_flush  # type: ignore[method-assign]
    try:
        app = make_app(Config(server=server.url, user="u0000", token=server.tokens["u0000"]), data=root / "c2-data")
        async with app.run_test(size=(120, 36)) as pilot:
            while len(app.main.contacts._order) < contacts + 1:
                await pilot.pause(0.01)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            handles = sorted(server.tokens)[1:]
            total = int(rate * seconds)
            start = time.perf_counter()
            for i in range(total):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                handle = handles[i % len(handles)]
                posted.setdefault(str(ChatKey.dm(handle)), time.perf_counter())  # the row's id
                status = "active" if (i // len(handles)) % 2 else "dnd"
                presence = {"type": "presence", "event": "changed", "user": handle, "status": status, "last_seen": None}
                app.session.receive(None, event({**presence, "ooo": None}))
            achieved = total / (time.perf_counter() - start)
            while posted and time.perf_counter() - start < seconds + 10:
                await pilot.pause(0.05)
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        ContactList.flush = original  # type: ignore[method-assign]
        server.stop()
    return {
        "huddle": {
            **ms(lags),
            "events": int(rate * seconds),
            "rate_achieved": round(achieved, 1),
            "unshown": len(posted),
            "max_rss_growth_kib": rss_after - rss_before,
            "pid": os.getpid(),
        }
    }
