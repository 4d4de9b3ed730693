"""Messages in process: who sees what, read receipts and markers, idempotent sends, the send rate."""

from __future__ import annotations

import pytest

from server.domain.errors import Conflict, DomainError, Forbidden, Invalid, Kind, NotFound, RateLimited
from tests.domain.conftest import World


async def test_a_dm_is_seen_by_its_two_parties_only(world: World) -> None:
    d, pk = world.domain, world.pk
    sent = await d.messages.send_dm(pk["alex.kim"], "jin.park", "hi jin")
    for handle in ("alex.kim", "jin.park"):
        assert (await d.messages.get(pk[handle], sent.message.public_id)).message.body == "hi jin"
    for handle in ("maya.chen", "hr.admin"):  # admins do not read other people's DMs
        with pytest.raises(NotFound) as refused:
            await d.messages.get(pk[handle], sent.message.public_id)
        assert refused.value.kind is Kind.NOT_FOUND
        assert refused.value.code == "MessageNotFound"


async def test_a_deleted_message_is_seen_by_nobody_and_only_its_sender_or_an_admin_deletes(world: World) -> None:
    d, pk = world.domain, world.pk
    general = (await d.snapshots.boot(pk["alex.kim"])).channels[0]
    sent = await d.channels.send(pk["alex.kim"], general.public_id or "", "hello all")
    with pytest.raises(Forbidden):
        await d.messages.delete(pk["maya.chen"], sent.message.public_id)
    assert (await d.messages.get(pk["maya.chen"], sent.message.public_id)).message.body == "hello all"
    await d.messages.delete(pk["hr.admin"], sent.message.public_id)
    for handle in ("alex.kim", "maya.chen", "hr.admin"):
        with pytest.raises(NotFound):
            await d.messages.get(pk[handle], sent.message.public_id)


async def test_reading_marks_every_earlier_unread_message_once_and_only_the_recipient_may(world: World) -> None:
    d, pk = world.domain, world.pk
    first = await d.messages.send_dm(pk["alex.kim"], "jin.park", "one")
    second = await d.messages.send_dm(pk["alex.kim"], "jin.park", "two")
    with pytest.raises(Forbidden) as refused:
        await d.messages.mark_read(pk["alex.kim"], second.message.public_id)
    assert refused.value.code == "NotRecipient"
    before = world.last_event_id()
    world.clock.advance(5)
    read = await d.messages.mark_read(pk["jin.park"], second.message.public_id)
    assert read.read_at == world.clock.now()
    assert (await d.messages.get(pk["jin.park"], first.message.public_id)).message.read_at == world.clock.now()
    receipts = [(a, e) for a, e in world.events(before) if (e["type"], e["event"]) == ("message", "read")]
    assert len(receipts) == 1  # one event names the newest message read
    audience, data = receipts[0]
    assert data["id"] == second.message.public_id
    assert audience == frozenset({pk["alex.kim"], pk["jin.park"]})
    after = world.last_event_id()
    await d.messages.mark_read(pk["jin.park"], first.message.public_id)  # already read: nothing to tell
    assert not [e for _, e in world.events(after) if e["type"] == "message"]


async def test_a_channel_read_marker_never_moves_back(world: World) -> None:
    d, pk = world.domain, world.pk
    general = (await d.snapshots.boot(pk["alex.kim"])).channels[0].public_id or ""
    old = await d.channels.send(pk["alex.kim"], general, "old")
    new = await d.channels.send(pk["alex.kim"], general, "new")
    await d.messages.mark_read(pk["maya.chen"], new.message.public_id)
    assert (await d.snapshots.boot(pk["maya.chen"])).channel_unread == {}
    before = world.last_event_id()
    await d.messages.mark_read(pk["maya.chen"], old.message.public_id)  # behind the marker: it stays
    assert not [e for _, e in world.events(before) if (e["type"], e["event"]) == ("message", "read")]
    await d.channels.send(pk["alex.kim"], general, "newer")
    assert list((await d.snapshots.boot(pk["maya.chen"])).channel_unread.values()) == [(1, 0)]


async def test_an_idempotent_send_is_stored_once_and_its_key_belongs_to_one_kind_of_send(world: World) -> None:
    d, pk = world.domain, world.pk
    first = await d.messages.send_dm(pk["alex.kim"], "jin.park", "once", idempotency_key="k-1")
    again = await d.messages.send_dm(pk["alex.kim"], "jin.park", "twice?", idempotency_key="k-1")
    assert again.message.public_id == first.message.public_id
    assert again.message.body == "once"
    page = await d.messages.history(pk["jin.park"], with_="alex.kim")
    assert [v.message.body for v in page.items] == ["once"]
    general = (await d.snapshots.boot(pk["alex.kim"])).channels[0].public_id or ""
    with pytest.raises(Conflict) as reused:
        await d.channels.send(pk["alex.kim"], general, "elsewhere", "k-1")
    assert reused.value.code == "IdempotencyKeyReused"


async def test_bodies_and_recipients_are_checked(world: World) -> None:
    d, pk = world.domain, world.pk
    cases: list[tuple[str, str, str]] = [("jin.park", "   ", "EmptyBody"), ("jin.park", "x" * 64_001, "BodyTooLong")]
    for to, body, code in cases:
        with pytest.raises(Invalid) as refused:
            await d.messages.send_dm(pk["alex.kim"], to, body)
        assert refused.value.code == code
    with pytest.raises(Invalid) as to_self:
        await d.messages.send_dm(pk["alex.kim"], "alex.kim", "me")
    assert to_self.value.code == "InvalidRecipient"
    with pytest.raises(NotFound):
        await d.messages.send_dm(pk["alex.kim"], "nobody", "hello?")


async def test_the_send_rate_counts_every_kind_of_send(world: World) -> None:
    d, pk = world.domain, world.pk
    d.messages.sends.window.limit = 3  # the same SendLimit is every service's
    general = (await d.snapshots.boot(pk["alex.kim"])).channels[0].public_id or ""
    await d.messages.send_dm(pk["alex.kim"], "jin.park", "1")
    await d.channels.send(pk["alex.kim"], general, "2")
    convo = await d.convos.create(pk["alex.kim"], pk["maya.chen"], "lunch")
    await d.convos.send(pk["alex.kim"], convo.pk, "3")
    with pytest.raises(RateLimited) as limited:
        await d.messages.send_dm(pk["alex.kim"], "jin.park", "4")
    assert limited.value.retry_after
    assert limited.value.kind is Kind.RATE_LIMITED
    assert isinstance(limited.value, DomainError)
