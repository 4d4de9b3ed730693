"""Chat basics in process: what a reaction is, excerpts, typing's rate, and who deletes what."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.emoji import check_emoji
from server.domain.errors import Forbidden, Invalid
from server.domain.search import excerpt
from tests.domain.conftest import World

ONE_EMOJI = [
    "🎉",
    "👍🏽",
    "👩\u200d💻",
    "🏳️\u200d🌈",
    "🇫🇷",
    "1️⃣",
    "❤️",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
]
NOT_ONE = ["", "x", "ok", "🎉🎉", "🏽", "🇫", "👍 ", "a🎉", "🎉\u200d", "1", "🎉" * 17, "\u200d🎉"]


@pytest.mark.parametrize("emoji", ONE_EMOJI)
def test_one_emoji_is_a_reaction(emoji: str) -> None:
    assert check_emoji(emoji) == emoji


@pytest.mark.parametrize("text", NOT_ONE)
def test_anything_else_is_not(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_emoji(text)
    assert refused.value.code == "InvalidEmoji"


def test_an_excerpt_is_cut_around_the_first_match_and_its_offsets_follow() -> None:
    body = "a" * 100 + " needle " + "b" * 300
    text, spans = excerpt(body, [(101, 107), (390, 395)])
    assert (text[0], text[-1]) == ("…", "…")
    assert len(text) == 162
    assert [text[a:b] for a, b in spans] == ["needle"]  # the second match is outside the excerpt
    assert excerpt("short needle", [(6, 12)]) == ("short needle", [(6, 12)])


async def test_typing_goes_out_once_every_3_s_per_conversation(world: World, monkeypatch: Any) -> None:
    d, pk = world.domain, world.pk
    sent: list[tuple[str, frozenset[int] | None, int | None]] = []
    monkeypatch.setattr(d.hub, "announce", lambda data, audience, exclude=None: sent.append((data, audience, exclude)))
    general = (await d.snapshots.boot(pk["alex.kim"])).channels[0].public_id
    before = world.last_event_id()
    for _ in range(3):
        await d.chat.typing(pk["alex.kim"], to="jin.park")
    await d.chat.typing(pk["alex.kim"], channel=general)
    world.clock.advance(2.9)
    await d.chat.typing(pk["alex.kim"], to="jin.park")
    world.clock.advance(0.1)
    await d.chat.typing(pk["alex.kim"], to="jin.park")
    assert [(audience, exclude) for _, audience, exclude in sent] == [
        (frozenset({pk["jin.park"]}), pk["alex.kim"]),
        (None, pk["alex.kim"]),
        (frozenset({pk["jin.park"]}), pk["alex.kim"]),
    ]
    assert '"type":"typing"' in sent[0][0]
    assert not [e for _, e in world.events(before) if e["type"] == "typing"]  # never in the log


async def test_an_admin_deletes_channel_messages_but_not_the_other_partys_dm(world: World) -> None:
    d, pk = world.domain, world.pk
    to_admin = await d.messages.send_dm(pk["alex.kim"], "hr.admin", "private")
    with pytest.raises(Forbidden) as refused:
        await d.messages.delete(pk["hr.admin"], to_admin.message.public_id)
    assert refused.value.code == "NotSender"
    own = await d.messages.send_dm(pk["hr.admin"], "alex.kim", "mine")
    await d.messages.delete(pk["hr.admin"], own.message.public_id)


async def test_the_first_message_of_a_dm_cannot_be_a_reply(world: World) -> None:
    d, pk = world.domain, world.pk
    elsewhere = await d.messages.send_dm(pk["alex.kim"], "jin.park", "hi")
    with pytest.raises(Invalid) as refused:
        await d.messages.send_dm(pk["alex.kim"], "maya.chen", "re", reply_to=elsewhere.message.public_id)
    assert refused.value.code == "InvalidReply"
