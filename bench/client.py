"""Client workloads, headless (run_test): C1 start-up with many contacts, C2 a presence storm."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path
from typing import Any

from textual.app import App
from textual.widgets import Static

from bench.servers import start_huddle
from bench.workloads import ms
from huddle_tui.app import make_app
from huddle_tui.config import Config
from huddle_tui.messages import StreamEvent
from huddle_tui.widgets.contact_list import ContactList


class Empty(App[None]):
    """The floor for C1: an empty Textual app."""

    def compose(self) -> Any:
        yield Static("empty")


async def _empty_startup() -> float:
    t0 = time.perf_counter()
    async with Empty().run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        return time.perf_counter() - t0


async def c1(root: Path, contacts: int, rounds: int) -> dict[str, Any]:
    """Start-up until the contact list shows every contact, against an empty app's start-up."""
    server = start_huddle(root / "c1", users=contacts + 1)
    try:
        ours, floor = [], []
        for i in range(rounds):
            floor.append(await _empty_startup())
            app = make_app(
                Config(server=server.url, user="u0000", token=server.tokens["u0000"]), data=root / f"c1-data-{i}"
            )
            t0 = time.perf_counter()
            async with app.run_test(size=(120, 36)) as pilot:
                while len(app.contacts._order) < contacts + 1:
                    if time.perf_counter() - t0 > 60:
                        raise TimeoutError("contacts never painted")
                    await pilot.pause(0.01)
                await pilot.pause()
                ours.append(time.perf_counter() - t0)
    finally:
        server.stop()
    return {
        "huddle": {**ms(ours), "contacts": contacts},
        "floor": ms(floor),
        "ratio_p50": round(sorted(ours)[len(ours) // 2] / sorted(floor)[len(floor) // 2], 2),
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
            while len(app.contacts._order) < contacts + 1:
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
                posted.setdefault(handle, time.perf_counter())
                status = "active" if (i // len(handles)) % 2 else "dnd"
                app.post_message(
                    StreamEvent(
                        None,
                        {
                            "type": "presence",
                            "event": "changed",
                            "user": handle,
                            "status": status,
                            "last_seen": None,
                            "ooo": None,
                        },
                    )
                )
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
