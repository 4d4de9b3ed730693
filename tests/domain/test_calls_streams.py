"""Calls and activity streams in process: the ring timeout, one live call a pair, who reads and writes a stream."""

from __future__ import annotations

import pytest

from server.domain.errors import Conflict, Forbidden, NotFound
from server.domain.streams import Draft
from tests.domain.conftest import World


async def test_a_call_nobody_answers_is_missed_exactly_at_the_ring_timeout(world: World) -> None:
    d, pk = world.domain, world.pk
    call = await d.calls.start(pk["alex.kim"], "jin.park", "audio")
    with pytest.raises(Conflict) as busy:
        await d.calls.start(pk["jin.park"], "alex.kim", "video")  # either way round
    assert busy.value.code == "CallInProgress"
    world.clock.advance(29)
    await d.tick()
    assert (await d.calls.get(pk["jin.park"], call.call.public_id)).call.status == "ringing"
    world.clock.advance(5)
    await d.tick()
    ended = (await d.calls.get(pk["jin.park"], call.call.public_id)).call
    assert ended.status == "no_answer"
    assert ended.ended_at == ended.started_at + 30 * 1_000_000
    missed, total = await d.calls.list(pk["jin.park"], missed=True, limit=10)
    assert total == 1
    assert missed[0].call.public_id == call.call.public_id
    assert (await d.calls.list(pk["alex.kim"], missed=True, limit=10))[1] == 0  # the caller missed nothing


async def test_ending_a_ringing_call_cancels_or_declines_it_and_strangers_do_not_see_it(world: World) -> None:
    d, pk = world.domain, world.pk
    call = await d.calls.start(pk["alex.kim"], "jin.park", "audio")
    with pytest.raises(NotFound):
        await d.calls.get(pk["maya.chen"], call.call.public_id)
    with pytest.raises(Forbidden):
        await d.calls.act(pk["alex.kim"], call.call.public_id, "answer")
    assert (await d.calls.act(pk["jin.park"], call.call.public_id, "end")).call.status == "declined"
    other = await d.calls.start(pk["alex.kim"], "jin.park", "audio")
    assert (await d.calls.act(pk["alex.kim"], other.call.public_id, "end")).call.status == "cancelled"


async def streams(world: World, handle: str) -> dict[str, str]:
    owners = await world.domain.streams.streams(world.pk[handle])
    return {o.name: o.stream_uuid for o in owners}


async def test_members_read_and_write_their_streams_and_admins_read_every_one(world: World) -> None:
    d, pk = world.domain, world.pk
    alex = await streams(world, "alex.kim")
    assert set(alex) == {"infrastructure", "platform"}
    assert set(await streams(world, "sam.ortiz")) == {"design"}
    post = await d.streams.post(pk["alex.kim"], Draft("hi team"), [alex["infrastructure"]])
    assert (await d.streams.get(pk["jin.park"], post.message.public_id)).view.message.body == "hi team"
    assert (await d.streams.get(pk["hr.admin"], post.message.public_id)).author.handle == "alex.kim"
    with pytest.raises(Forbidden):  # it exists, but is not Sam's to read
        await d.streams.get(pk["sam.ortiz"], post.message.public_id)
    with pytest.raises(Forbidden):  # admins read every stream but write only where they are members
        await d.streams.post(pk["hr.admin"], Draft("from hr"), [alex["infrastructure"]])


async def test_an_archived_workspace_stream_is_read_only_and_a_deleted_team_s_is_gone_for_members(
    world: World,
) -> None:
    d, pk = world.domain, world.pk
    alex = await streams(world, "alex.kim")
    post = await d.streams.post(pk["alex.kim"], Draft("plans"), [alex["platform"]])
    await d.groups.patch(pk["hr.admin"], "workspace", "1", {"state": "archived"})
    assert (await d.streams.get(pk["maya.chen"], post.message.public_id)).view.message.body == "plans"
    with pytest.raises(Forbidden) as read_only:
        await d.streams.post(pk["maya.chen"], Draft("more"), [alex["platform"]])
    assert "read-only" in read_only.value.message
    team_post = await d.streams.post(pk["jin.park"], Draft("infra"), [alex["infrastructure"]])
    await d.groups.patch(pk["hr.admin"], "team", "1", {"deleted": True})
    with pytest.raises(Forbidden):
        await d.streams.get(pk["jin.park"], team_post.message.public_id)
    assert (await d.streams.get(pk["hr.admin"], team_post.message.public_id)).view.message.body == "infra"


async def test_a_post_to_several_streams_lives_in_the_first_and_is_copied_to_the_others(world: World) -> None:
    d, pk = world.domain, world.pk
    alex = await streams(world, "alex.kim")
    notes: list[tuple[str, str]] = []

    def note(source_id: str, stream: str) -> dict[str, str]:
        notes.append((source_id, stream))
        return {"from": source_id}

    post = await d.streams.post(pk["alex.kim"], Draft("both"), [alex["infrastructure"], alex["platform"]], note=note)
    assert notes == [(post.message.public_id, alex["infrastructure"])]
    source = await d.streams.get(pk["maya.chen"], post.message.public_id)
    assert [s["stream"] for s in source.shares] == [alex["platform"]]
    jin_sees = await d.streams.get(pk["jin.park"], post.message.public_id)
    assert jin_sees.shares == []  # the copy is in a workspace Jin is not in
