"""What users of every chat client expect of a message after it is sent: editing it, reactions, and
telling the other side that someone is typing.

Who may: the sender alone edits, and only a DM or a channel message (convos edit through their own
dialect, stream posts not at all); anyone who may see a message reacts to it. Typing is ephemeral:
it goes to the hub and never into the log, so it is neither stored nor replayed. Edits and
reactions write to the log like sends, so they count toward the send rate (checked before the work).
"""

from __future__ import annotations

import json
from typing import Any

from server.domain import access
from server.domain.actors import actor_of
from server.domain.channels import Channels
from server.domain.clock import Clock
from server.domain.emoji import check_emoji
from server.domain.errors import Forbidden, Invalid
from server.domain.events import EventLog, MessageEdited, ReactionChanged, Typing
from server.domain.limits import SendLimit
from server.domain.messaging import Messaging, check_body
from server.domain.people import People
from server.domain.views import MessageView
from server.events import Hub
from server.store.base import ReadTx, Store, WriteTx

MAX_REACTIONS = 32  # distinct emoji on one message
TYPING_EVERY_US = 3_000_000  # at most one typing event per user and conversation this often
TYPING_KEPT = 10_000  # (user, conversation) pairs remembered before the stale ones are forgotten


class Chat:
    """Edits, reactions and typing."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        log: EventLog,
        people: People,
        messages: Messaging,
        channels: Channels,
        hub: Hub,
        sends: SendLimit,
    ) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.people = people
        self.messages = messages
        self.channels = channels
        self.hub = hub
        self.sends = sends
        self._typed: dict[tuple[int, int], int] = {}

    async def edit(self, actor_pk: int, public_id: str, body: Any) -> MessageView:
        """Change the body of my DM or channel message; whoever may see it is told."""
        body = check_body(body)
        self.sends.count(actor_pk)

        def run(tx: WriteTx) -> MessageView:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            message, conv = self.messages.visible(tx, actor, public_id)
            if message.sender_pk != actor.pk or conv.kind not in ("dm", "channel"):
                raise Forbidden("NotSender", "only the sender can edit a message (of a DM or a channel)")
            tx.set_message_body(message.pk, body, now)
            self.log.emit(tx, access.audience(tx, conv), MessageEdited(now, message.public_id, body))
            self.people.touch(tx, actor.pk, now)
            edited = tx.get_message_pk(message.pk)
            assert edited is not None
            return self.messages.view_of(tx, edited, conv)

        return await self.store.write(run)

    async def react(self, actor_pk: int, public_id: str, emoji: Any, *, add: bool) -> MessageView:
        """Add or take back my reaction to a message I may see; adding one already there, or taking
        back one that is not, changes nothing and tells no one."""
        emoji = check_emoji(emoji)
        self.sends.count(actor_pk)

        def run(tx: WriteTx) -> MessageView:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            message, conv = self.messages.visible(tx, actor, public_id)
            there = tx.has_reaction(message.pk, emoji, actor.pk)
            if add and not there:
                if emoji not in self._emoji_on(tx, message.pk) and tx.distinct_reactions(message.pk) >= MAX_REACTIONS:
                    raise Invalid("TooManyReactions", f"a message carries at most {MAX_REACTIONS} different emoji")
                tx.add_reaction(message.pk, emoji, actor.pk, now)
            elif not add and there:
                tx.remove_reaction(message.pk, emoji, actor.pk)
            if add != there:
                event = ReactionChanged(now, message.public_id, emoji, actor.handle, add)
                self.log.emit(tx, access.audience(tx, conv), event)
                self.people.touch(tx, actor.pk, now)
            return self.messages.view_of(tx, message, conv)

        return await self.store.write(run)

    @staticmethod
    def _emoji_on(tx: WriteTx, message_pk: int) -> set[str]:
        return {emoji for emoji, _ in tx.reactions_of([message_pk]).get(message_pk, [])}

    async def typing(self, actor_pk: int, *, to: Any = None, channel: Any = None) -> None:
        """Tell the other party of a DM, or a channel's readers, that I am typing: at most once every
        3 s per conversation (the rest are dropped), never stored."""
        if (to is None) == (channel is None):
            raise Invalid("InvalidRequest", "name one of to (a handle) and channel (a channel id)")

        def run(repo: ReadTx) -> tuple[int, frozenset[int] | None, Typing]:
            actor = actor_of(repo, actor_pk)
            now = self.clock.now()
            if channel is not None:
                conv = self.channels.channel(repo, channel)
                return conv.pk, None, Typing(now, actor.handle, channel=conv.public_id)
            other = self.people.find(repo, to)
            if other.pk == actor.pk:
                raise Invalid("InvalidRecipient", "you cannot type to yourself")
            # The DM may not exist yet (the first message is being typed): key on the pair.
            dm = repo.get_dm(actor.pk, other.pk)
            key = dm.pk if dm is not None else -other.pk
            return key, frozenset({other.pk}), Typing(now, actor.handle, to=other.handle)

        key, audience, event = await self.store.read(run)
        if not self._due(actor_pk, key, event.at):
            return
        data = json.dumps(self.log.render(event), separators=(",", ":"), ensure_ascii=False)
        self.hub.announce(data, audience, exclude=actor_pk)

    def _due(self, actor_pk: int, key: int, now: int) -> bool:
        """Whether a typing event for this user and conversation may go out now (and note it)."""
        last = self._typed.get((actor_pk, key))
        if last is not None and now - last < TYPING_EVERY_US:
            return False
        if len(self._typed) >= TYPING_KEPT:  # memory stays bounded whoever types
            self._typed = {k: at for k, at in self._typed.items() if now - at < TYPING_EVERY_US}
        self._typed[(actor_pk, key)] = now
        return True
