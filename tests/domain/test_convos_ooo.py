"""Convos, OOO entries and groups in process: who may change what."""

from __future__ import annotations

import pytest

from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.ooo import DatesReversed, OooChange, OooFields
from tests.domain.conftest import World


async def test_a_convo_exists_for_its_two_participants_and_its_creator_alone_changes_it(world: World) -> None:
    d, pk = world.domain, world.pk
    convo = await d.convos.create(pk["alex.kim"], pk["maya.chen"], "lunch")
    assert (await d.convos.get(pk["maya.chen"], convo.pk)).conversation.subject == "lunch"
    for handle in ("jin.park", "hr.admin"):  # admins included
        with pytest.raises(NotFound):
            await d.convos.get(pk[handle], convo.pk)
    with pytest.raises(Forbidden) as refused:
        await d.convos.patch(pk["maya.chen"], convo.pk, "dinner")
    assert refused.value.code == "NotConvoCreator"
    sent = await d.convos.send(pk["alex.kim"], convo.pk, "noon?")
    with pytest.raises(Forbidden):  # the recipient may not edit the sender's body
        await d.convos.patch_message(pk["maya.chen"], convo.pk, sent.message.public_id, body="edited")
    await d.convos.patch_message(pk["maya.chen"], convo.pk, sent.message.public_id, mark_read=True)
    assert (await d.convos.message(pk["alex.kim"], convo.pk, sent.message.public_id)).message.read_at is not None
    await d.convos.delete(pk["alex.kim"], convo.pk)
    with pytest.raises(NotFound):
        await d.messages.get(pk["maya.chen"], sent.message.public_id)


async def test_an_ooo_entry_is_changed_by_its_owner_only_and_its_dates_stay_in_order(world: World) -> None:
    d, pk = world.domain, world.pk
    now = world.clock.now()
    _, entry = await d.ooo.create(pk["jin.park"], OooFields(True, now, now + 1_000_000, "away"))
    with pytest.raises(Forbidden) as refused:
        await d.ooo.update(pk["alex.kim"], "jin.park", str(entry.pk), lambda: OooChange(message="x"))
    assert refused.value.code == "InsufficientPermission"
    with pytest.raises(DatesReversed):  # the stored end with a new start after it
        await d.ooo.update(pk["jin.park"], "jin.park", str(entry.pk), lambda: OooChange(start=now + 2_000_000))
    read: list[bool] = []

    def change() -> OooChange:
        read.append(True)
        return OooChange(message="x")

    with pytest.raises(NotFound):  # the change is not even read for an entry that is not there
        await d.ooo.update(pk["jin.park"], "jin.park", "999", change)
    assert read == []
    with pytest.raises(Invalid) as too_long:
        await d.ooo.create(pk["jin.park"], OooFields(True, None, None, "x" * 281))
    assert too_long.value.code == "MessageLengthLimitExceeded"


async def test_teams_and_workspaces_are_managed_by_admins_with_unique_names(world: World) -> None:
    d, pk = world.domain, world.pk
    with pytest.raises(Forbidden):
        await d.groups.create(pk["alex.kim"], "team", {"name": "mine"})
    team = await d.groups.create(pk["hr.admin"], "team", {"name": "ops", "members": ["sam.ortiz"]})
    assert [u.handle for u in team.members] == ["sam.ortiz"]
    with pytest.raises(Conflict):
        await d.groups.create(pk["hr.admin"], "team", {"name": "ops"})
    with pytest.raises(Forbidden) as outsider:
        await d.groups.get(pk["alex.kim"], "team", str(team.record.pk))
    assert outsider.value.code == "TeamMembershipRequired"
