"""Presence in process: away flips, what others may see of a user, mates, the stream grace."""

from __future__ import annotations

from server.dialects.events import render
from server.domain.core import Domain
from server.store.base import Store
from server.store.postgres import PostgresStore
from server.store.sqlite import SqliteStore
from tests.domain.conftest import World


async def status(world: World, viewer: str, handle: str) -> tuple[str, int | None]:
    view = await world.domain.people.get(world.pk[viewer], handle)
    return view.user.status, view.last_seen


async def test_a_user_is_active_when_acting_and_away_after_the_idle_time(world: World) -> None:
    d, pk = world.domain, world.pk
    assert (await status(world, "jin.park", "alex.kim"))[0] == "away"  # new users start away
    await d.people.activity(pk["alex.kim"])
    acted = world.clock.now()
    assert await status(world, "jin.park", "alex.kim") == ("active", acted)
    world.clock.advance(299)
    await d.tick()
    assert (await status(world, "jin.park", "alex.kim"))[0] == "active"
    world.clock.advance(2)
    await d.tick()
    assert await status(world, "jin.park", "alex.kim") == ("away", acted)


async def test_a_sticky_status_survives_activity_and_only_admins_set_a_leave(world: World) -> None:
    d, pk = world.domain, world.pk
    await d.people.patch(pk["hr.admin"], "jin.park", status="medical_leave")
    await d.people.activity(pk["jin.park"])
    assert (await status(world, "alex.kim", "jin.park"))[0] == "medical_leave"
    view = await d.people.get(pk["alex.kim"], "jin.park")
    assert view.set_by is not None
    assert view.set_by.handle == "hr.admin"


async def test_a_hidden_last_seen_reaches_its_owner_only(world: World) -> None:
    d, pk = world.domain, world.pk
    await d.people.patch(pk["jin.park"], "jin.park", hide_last_seen=True)
    before = world.last_event_id()
    world.clock.advance(60)
    await d.people.activity(pk["jin.park"])
    seen = world.clock.now()
    assert (await status(world, "jin.park", "jin.park"))[1] == seen
    assert (await status(world, "alex.kim", "jin.park"))[1] is None
    presence = [(a, e) for a, e in world.events(before) if e["type"] == "presence"]
    # Jin was active already: only last_seen moved, so only Jin is told (an `at` would give it away).
    assert [a for a, _ in presence] == [frozenset({pk["jin.park"]})]


async def test_ooo_details_reach_mates_of_a_live_team_or_workspace_and_admins_only(world: World) -> None:
    d, pk = world.domain, world.pk
    from server.domain.ooo import OooFields

    await d.ooo.create(pk["jin.park"], OooFields(True, None, None, "back monday"))
    await d.ooo.create(pk["alex.kim"], OooFields(True, None, None, "offsite"))
    assert (await d.people.get(pk["maya.chen"], "jin.park")).ooo is not None  # the same team
    assert (await d.people.get(pk["hr.admin"], "jin.park")).ooo is not None  # an admin
    assert (await d.people.get(pk["sam.ortiz"], "jin.park")).ooo is None  # another team
    # A deleted team makes no mates; a workspace that is not deleted (here archived) still does.
    infra = await d.groups.get(pk["hr.admin"], "team", "1")
    await d.groups.patch(pk["hr.admin"], "team", str(infra.record.pk), {"deleted": True})
    assert (await d.people.get(pk["maya.chen"], "jin.park")).ooo is None
    assert (await d.people.get(pk["maya.chen"], "alex.kim")).ooo is not None  # the platform workspace
    await d.groups.patch(pk["hr.admin"], "workspace", "1", {"state": "archived"})
    assert (await d.people.get(pk["maya.chen"], "alex.kim")).ooo is not None
    await d.groups.patch(pk["hr.admin"], "workspace", "1", {"state": "deleted"})
    assert (await d.people.get(pk["maya.chen"], "alex.kim")).ooo is None


async def test_the_newest_active_entry_covering_now_is_the_one_in_force(world: World) -> None:
    d, pk = world.domain, world.pk
    from server.domain.ooo import OooFields

    now = world.clock.now()
    day = 86_400 * 1_000_000
    await d.ooo.create(pk["jin.park"], OooFields(True, now - day, now + day, "first"))
    await d.ooo.create(pk["jin.park"], OooFields(True, now - day, now + 2 * day, "second"))
    await d.ooo.create(pk["jin.park"], OooFields(False, now - day, now + 3 * day, "off"))
    await d.ooo.create(pk["jin.park"], OooFields(True, now + day, None, "later"))
    view = await d.people.get(pk["alex.kim"], "jin.park")
    assert view.ooo is not None
    assert view.ooo.message == "second"
    before = world.last_event_id()
    world.clock.advance(2 * 86_400 + 1)  # "second" ended, "later" began: a boundary, announced
    await d.tick()
    view = await d.people.get(pk["alex.kim"], "jin.park")
    assert view.ooo is not None
    assert view.ooo.message == "later"
    to_mates = [e for a, e in world.events(before) if e["type"] == "presence" and a and pk["maya.chen"] in a]
    assert to_mates
    assert to_mates[-1]["ooo"]["message"] == "later"


async def test_a_user_whose_last_stream_closes_is_away_after_the_grace(world: World) -> None:
    d, pk = world.domain, world.pk
    await d.people.activity(pk["alex.kim"])
    sub = await d.subscribe(pk["alex.kim"], None)
    sub.close()
    world.clock.advance(4)
    await d.tick()
    assert (await status(world, "jin.park", "alex.kim"))[0] == "active"
    again = await d.subscribe(pk["alex.kim"], None)  # back within the grace: nothing changes
    again.close()
    world.clock.advance(5)
    await d.tick()
    assert (await status(world, "jin.park", "alex.kim"))[0] == "away"


def _second_process(store: Store) -> Store:
    """Another server process's store on the same database."""
    if isinstance(store, PostgresStore):
        return PostgresStore(store.url)
    assert isinstance(store, SqliteStore)
    return SqliteStore(store.path, synchronous="NORMAL")


async def test_a_stream_on_another_process_keeps_a_user_active_until_it_closes_too(world: World) -> None:
    d, pk, clock = world.domain, world.pk, world.clock
    store = _second_process(d.store)
    other = Domain(store, d.settings, render, clock)
    await other.start()
    try:
        await d.people.activity(pk["alex.kim"])
        here = await d.subscribe(pk["alex.kim"], None)
        there = await other.subscribe(pk["alex.kim"], None)
        here.close()
        clock.advance(6)
        await other.tick()
        await d.tick()
        assert (await status(world, "jin.park", "alex.kim"))[0] == "active"  # still there, on the other
        there.close()
        clock.advance(6)
        await d.tick()
        await other.tick()
        assert (await status(world, "jin.park", "alex.kim"))[0] == "away"
        # A process that stopped ticking (killed) holds no one once it is past the alive window.
        again = await other.subscribe(pk["alex.kim"], None)
        await d.people.activity(pk["alex.kim"])
        here = await d.subscribe(pk["alex.kim"], None)
        here.close()
        clock.advance(d.people.alive_us / 1_000_000 + 1)
        await d.people.activity(pk["alex.kim"])  # active now: only the closed stream can make them away
        await d.tick()
        assert (await status(world, "jin.park", "alex.kim"))[0] == "away"
        again.close()
    finally:
        await other.stop()
        store.close()
