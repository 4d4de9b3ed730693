"""Boot and the event log in process: what a snapshot holds, and each event's audiences and wording."""

from __future__ import annotations

import asyncio

import pytest

from server.domain.errors import Gone, Kind, RateLimited
from tests.domain.conftest import World


async def test_boot_joins_the_event_stream_exactly(world: World) -> None:
    d, pk = world.domain, world.pk
    await d.messages.send_dm(pk["alex.kim"], "jin.park", "before")
    boot = await d.snapshots.boot(pk["jin.park"])
    await d.messages.send_dm(pk["alex.kim"], "jin.park", "after")
    sub = await d.subscribe(pk["jin.park"], boot.resume_point)
    try:
        frame = await sub.next(60)
        assert frame is not None
        assert '"body":"after"' in frame.json
    finally:
        sub.close()
    assert [m.message.body for m in boot.messages] == ["before"]
    assert boot.unread == {"alex.kim": 1}


async def test_boot_cuts_long_bodies_within_its_bounds(world: World) -> None:
    d, pk = world.domain, world.pk
    d.snapshots.body_bytes = 10
    await d.messages.send_dm(pk["alex.kim"], "jin.park", "é" * 20)
    (message,) = (await d.snapshots.boot(pk["jin.park"])).messages
    assert message.truncated
    assert message.message.body == "é" * 5


async def test_every_event_is_rendered_once_when_written_for_its_audiences(world: World) -> None:
    d, pk = world.domain, world.pk
    before = world.last_event_id()
    sent = await d.messages.send_dm(pk["alex.kim"], "jin.park", "hello")
    call = await d.calls.start(pk["alex.kim"], "maya.chen", "video")
    variants = world.events(before)
    message = next((a, e) for a, e in variants if e["type"] == "message")
    assert message == (
        frozenset({pk["alex.kim"], pk["jin.park"]}),
        {
            "type": "message",
            "event": "sent",
            "at": "2024-03-15T09:00:00.000000Z",
            "id": sent.message.public_id,
            "sender": "alex.kim",
            "body": "hello",
            "parent": None,
            "reply_to": None,
            "to": "jin.park",
        },
    )
    ringing = next(e for _, e in variants if e["type"] == "call")
    assert (ringing["event"], ringing["call_id"], ringing["ended_at"]) == ("ringing", call.call.public_id, None)


async def test_streams_past_the_cap_and_resume_points_out_of_the_log_are_refused_with_their_kinds(
    world: World,
) -> None:
    d, pk = world.domain, world.pk
    d.hub.max_streams_per_user = 1
    first = await d.subscribe(pk["alex.kim"], None)
    try:
        with pytest.raises(RateLimited) as capped:
            await d.subscribe(pk["alex.kim"], None)
        assert (capped.value.code, capped.value.retry_after) == ("TooManyStreams", 5)
        with pytest.raises(Gone) as gone:
            await d.subscribe(pk["jin.park"], world.last_event_id() + 10)
        assert gone.value.kind is Kind.GONE
        assert gone.value.code == "ResumePointGone"
    finally:
        first.close()


async def test_health_reads_the_store_now_and_is_none_when_it_does_not_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await world.domain.health() == world.last_event_id()

    async def down(fn: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(world.domain.store, "read", down)
    assert await world.domain.health() is None


async def test_streams_close_when_the_log_moved_on_past_what_the_hub_relayed(world: World) -> None:
    """A new log epoch (a restored or failed-over database) prunes past the hub's last relayed id: the
    streams open here may hold events the log lost, so they end, and resuming from them is 410."""
    d, pk = world.domain, world.pk
    sub = await d.subscribe(pk["jin.park"], None)
    newest = world.last_event_id()
    jump = newest + 1000
    d.store.write_sync(lambda tx: tx.set_meta("pruned_through", str(jump)))
    assert d.store.on_foreign is not None
    d.store.on_foreign(0)  # the doorbell (or the poll): the hub reads the log
    for _ in range(100):
        if sub.closed:
            break
        await asyncio.sleep(0.02)
    assert sub.closed
    assert d.hub.last_id == jump
    with pytest.raises(Gone):
        await d.subscribe(pk["jin.park"], newest)
    assert (await d.subscribe(pk["jin.park"], jump)).last_id == jump
