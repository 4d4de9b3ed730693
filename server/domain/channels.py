"""Public channels: create, send, delete."""

from __future__ import annotations

import unicodedata
from typing import Any

from server.domain.actors import actor_of
from server.domain.admin import Admin, channel_key
from server.domain.clock import Clock
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.events import ChannelChanged, EventLog
from server.domain.limits import SendLimit
from server.domain.messaging import Messaging, Page, check_body, decorated
from server.domain.names import name_problem
from server.domain.people import People
from server.domain.views import MessageView
from server.model import Conversation
from server.store.base import ReadTx, Store, WriteTx

MAX_NAME = 64


def check_channel_name(name: Any) -> str:
    """A channel name: 1-64 printable characters, no surrounding spaces."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("InvalidChannelName", "a channel needs a name")
    if name != name.strip():
        raise Invalid("InvalidChannelName", "a channel name cannot start or end with spaces")
    if len(name) > MAX_NAME:
        raise Invalid("InvalidChannelName", f"a channel name is at most {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise Invalid("InvalidChannelName", "a channel name cannot hold control or format characters")
    problem = name_problem(name)
    if problem is not None:
        raise Invalid("InvalidChannelName", f"a channel name: {problem}")
    return name


class Channels:
    """Channel operations; every user may read and write every live channel."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        log: EventLog,
        people: People,
        messages: Messaging,
        admin: Admin,
        sends: SendLimit,
    ) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.people = people
        self.messages = messages
        self.admin = admin
        self.sends = sends

    def channel(self, repo: ReadTx, public_id: str) -> Conversation:
        """A live channel, or ChannelNotFound."""
        conv = repo.get_conversation_by_public_id(public_id) if isinstance(public_id, str) else None
        if conv is None or conv.kind != "channel" or conv.deleted:
            raise NotFound("ChannelNotFound", f"no channel {public_id!r}")
        return conv

    async def create(self, actor_pk: int, name: Any) -> Conversation:
        """A new channel; names are compared case-folded and normalised."""
        name = check_channel_name(name)

        def run(tx: WriteTx) -> Conversation:
            actor = actor_of(tx, actor_pk)
            if tx.get_channel_by_key(channel_key(name)) is not None:
                raise Conflict("ChannelNameInUse", f"a channel named {name!r} already exists")
            pk, _ = self.admin.ensure_channel(tx, name, creator_pk=actor.pk)
            self.people.touch(tx, actor.pk, self.clock.now())
            conv = tx.get_conversation(pk)
            assert conv is not None
            return conv

        return await self.store.write(run)

    async def send(
        self, actor_pk: int, public_id: str, body: Any, idempotency_key: str | None = None, reply_to: Any = None
    ) -> MessageView:
        """Post to a channel (`reply_to`: a message of it this one answers): everyone receives it. A retry
        with the same key returns the first message."""
        body = check_body(body)
        self.sends.count(actor_pk)

        def run(tx: WriteTx) -> MessageView:
            earlier = self.messages.replay(tx, actor_pk, idempotency_key, "channel")
            if earlier is not None:
                return earlier
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            conv = self.channel(tx, public_id)
            parent = self.messages.parent_in(tx, actor, conv, reply_to) if reply_to is not None else None
            view = self.messages.post(tx, actor, conv, body, now, parent=parent)
            self.messages.remember(tx, actor_pk, idempotency_key, view.message.pk, now)
            self.people.touch(tx, actor.pk, now)
            return view

        return await self.store.write(run)

    async def history(self, viewer_pk: int, public_id: str, before: str | None = None, limit: int = 50) -> Page:
        """The `limit` messages of a channel just older than `before` (none = the newest), ascending."""

        def run(repo: ReadTx) -> Page:
            viewer = actor_of(repo, viewer_pk)
            conv = self.channel(repo, public_id)
            before_pk: int | None = None
            if before is not None:
                anchor, where = self.messages.visible(repo, viewer, before)
                if where.pk != conv.pk:
                    raise Invalid("InvalidRequest", f"message {before!r} is not in this channel")
                before_pk = anchor.pk
            messages, total = repo.dm_messages(
                conversation_pks=[conv.pk], sender_pk=None, since=None, before_pk=before_pk, limit=limit
            )
            senders = repo.users_by_pk({m.sender_pk for m in messages})
            items = [MessageView(m, senders[m.sender_pk].handle, None, conv) for m in messages]
            more = bool(messages) and repo.has_older([conv.pk], None, None, messages[0].pk)
            return Page(decorated(repo, items), total, messages[0].public_id if more else None)

        return await self.store.read(run)

    async def delete(self, actor_pk: int, public_id: str) -> None:
        """Remove a channel (its creator or an admin)."""

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            conv = self.channel(tx, public_id)
            if not actor.is_admin and conv.creator_pk != actor.pk:
                raise Forbidden("Forbidden", "only the channel's creator or an admin can delete it")
            tx.delete_conversation(conv.pk)
            self.log.emit(tx, None, ChannelChanged(now, "deleted", conv.public_id or "", conv.name))
            self.people.touch(tx, actor.pk, now)

        await self.store.write(run)
