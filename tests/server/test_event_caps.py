"""The hub's bounds: bytes queued for a slow reader, and full replays read in chunks that yield."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from server import events
from server.model import Variant
from server.store.base import WriteTx
from server.store.sqlite import SqliteStore

TIMEOUT = 10.0


def frame(n: int, size: int) -> events.Frame:
    """A frame whose text is `size` characters."""
    return events.Frame(n, json.dumps({"n": n, "pad": "x" * (size - 20)}))


async def test_a_reader_past_the_byte_cap_is_cut_off_and_its_frames_dropped(tmp_path: Path) -> None:
    """--max-buffered-bytes 1000: two frames of ~450 bytes wait; the third cuts the stream off and
    drops what was queued (its client resumes from its last id). One frame over the cap still
    goes to a reader with nothing queued (else a big message could never be delivered)."""
    store = SqliteStore(tmp_path / "h.db")
    hub = events.Hub(store, max_buffered_bytes=1000)
    try:
        sub = await hub.subscribe(1, None)
        sub.push(frame(1, 400))
        sub.push(frame(2, 400))
        assert (sub.closed, len(sub.frames)) == (False, 2)
        assert 800 < sub.queued_bytes <= 1000
        assert (await sub.next(60)).id == 1  # type: ignore[union-attr]
        sub.push(frame(3, 400))  # room again after the reader took one
        sub.push(frame(4, 400))
        assert sub.closed
        assert sub not in hub.subs
        assert (len(sub.frames), sub.queued_bytes, sub.last_id) == (1, 0, 1)  # the end mark only
        with pytest.raises(events.Closed):
            await sub.next(60)

        big = await hub.subscribe(2, None)
        big.push(frame(5, 5000))
        assert not big.closed
        assert (await big.next(60)).id == 5  # type: ignore[union-attr]
        big.push(frame(6, 5000))
        big.push(frame(7, 10))  # behind a frame over the cap: cut off
        assert big.closed
    finally:
        store.close()


def big_events(count: int, chars: int) -> object:
    """Write `count` events for everyone, each with a text of `chars` characters."""

    def run(tx: WriteTx) -> None:
        for n in range(count):
            tx.emit(n, [Variant(None, {"type": "message", "event": "sent", "n": n, "body": "x" * chars})])

    return run


def test_events_after_stops_at_the_stored_size(tmp_path: Path) -> None:
    """A chunk of the log ends once the text read passes max_chars (and holds at least one event)."""
    store = SqliteStore(tmp_path / "h.db")
    try:
        store.write_sync(big_events(10, 10_000))  # type: ignore[arg-type]
        every = store.read_sync(lambda r: r.events_after(0))
        assert len(every) == 10
        some = store.read_sync(lambda r: r.events_after(0, None, 1000, 25_000))
        assert [e.id for e in some] == [e.id for e in every[: len(some)]]
        assert len(some) == 3  # ~10,080 characters stored each: the third passes 25,000
        one = store.read_sync(lambda r: r.events_after(0, None, 1000, 1))
        assert len(one) == 1
    finally:
        store.close()


async def test_a_full_replay_hands_out_events_in_slices_and_lets_others_run(tmp_path: Path) -> None:
    """200 events of 20,000 characters replayed from 0: every one arrives in order, never more than a
    chunk of the log is held at once, and a task beside the reader keeps running throughout
    (before, one chunk of 500 was read and encoded in one go, and handed out without a pause)."""
    store = SqliteStore(tmp_path / "h.db")
    hub = events.Hub(store)
    try:
        store.write_sync(big_events(200, 20_000))  # type: ignore[arg-type]
        await hub.start()
        sub = await hub.subscribe(1, 0)
        ticks = held = 0

        async def beside() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(beside())
        got = []
        run = longest = 0  # frames handed out in a row while the task beside did not run
        for _ in range(200):
            held = max(held, len(sub._replayed))
            seen = ticks
            got.append(json.loads((await asyncio.wait_for(sub.next(60), TIMEOUT)).json)["n"])  # type: ignore[union-attr]
            run = run + 1 if ticks == seen else 0
            longest = max(longest, run)
        ticker.cancel()
        assert got == list(range(200))
        assert held <= events.REPLAY_CHUNK_CHARS // 20_000 + 1
        assert longest <= events.REPLAY_SLICE_BYTES // 20_000 + 1

        again = await hub.subscribe(1, 0)
        assert json.loads((await again.next(60)).json)["n"] == 0  # type: ignore[union-attr]
        again.close()  # the client went, or its token was revoked: the replay stops there
        with pytest.raises(events.Closed):
            await again.next(60)
    finally:
        await hub.stop()
        store.close()
