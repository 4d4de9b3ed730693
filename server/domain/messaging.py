"""Messages of every kind (the one `post` all sends go through), DMs, read receipts and unread counts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from server.domain import access
from server.domain.actors import actor_of, still_there
from server.domain.clock import Clock
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.events import EventLog, MessageDeleted, MessageRead, MessageSent
from server.domain.limits import SendLimit
from server.domain.people import People
from server.domain.views import MessageView
from server.model import Conversation, Event, Message, User, Variant
from server.store.base import ReadTx, Store, WriteTx

MAX_BODY = 64_000
MAX_IDEMPOTENCY_KEY = 255


def utf8_size(text: str) -> int:
    """How many bytes the text takes in UTF-8."""
    return len(text) if text.isascii() else len(text.encode())


def preview(body: str, limit: int) -> tuple[str, bool]:
    """The body cut to at most `limit` bytes of UTF-8 (whole characters), and whether it was cut."""
    if len(body) * 4 <= limit:  # no character takes more than 4 bytes
        return body, False
    data = body.encode()
    if len(data) <= limit:
        return body, False
    return data[:limit].decode("utf-8", "ignore"), True


def mentions(body: str, handle: str) -> bool:
    """Whether a body mentions this handle as `@handle` (not as part of a longer handle or an
    email address: `a@handle` and `@handle.x` are not mentions; `@handle.` at a sentence's end is)."""
    start = 0
    needle = "@" + handle
    while (at := body.find(needle, start)) >= 0:
        start = at + 1
        before = body[at - 1] if at else " "
        after = body[at + len(needle) : at + len(needle) + 2]
        if before.isalnum() or before in "._-@":
            continue
        if after[:1] and (after[0].isalnum() or after[0] in "_-" or (after[0] == "." and after[1:2].isalnum())):
            continue
        return True
    return False


@dataclass(frozen=True, slots=True)
class Page:
    """One page of messages, ascending, with the total and the cursor further back."""

    items: list[MessageView]
    total: int
    next_before: str | None


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A DM partner with the unread count and the newest message."""

    partner: str
    unread: int
    last: MessageView | None


def decorated(repo: ReadTx, views: list[MessageView]) -> list[MessageView]:
    """Views with their reactions (emoji -> handles, in order) and the public id of the message each
    replies to, read for all of them at once."""
    pks = [v.message.pk for v in views]
    reactions = repo.reactions_of(pks)
    parents = repo.public_ids(v.message.parent_pk for v in views if v.message.parent_pk and v.parent_id is None)
    people = repo.users_by_pk({u for pairs in reactions.values() for _, u in pairs})
    out = []
    for view in views:
        pairs = reactions.get(view.message.pk)
        parent = view.parent_id or parents.get(view.message.parent_pk or 0)
        if not pairs and parent == view.parent_id:
            out.append(view)
            continue
        grouped: dict[str, list[str]] = {}
        for emoji, user_pk in pairs or []:
            if user_pk in people:
                grouped.setdefault(emoji, []).append(people[user_pk].handle)
        out.append(replace(view, parent_id=parent, reactions=grouped))
    return out


def without_body(event: Event, message_id: str) -> Event:
    """A stored event with the body of a deleted message taken out of every variant that carried it."""
    variants = []
    for variant in event.variants:
        data = variant.data
        if data.get("id") == message_id and "body" in data:
            data = {**data, "body": "", "deleted": True}
        variants.append(Variant(variant.audience, data))
    return Event(event.id, event.at, tuple(variants))


def new_message_id() -> str:
    """A public message id."""
    return "msg_" + secrets.token_hex(8)


def check_body(body: Any) -> str:
    """A message body: text, not blank, at most 64,000 characters."""
    if not isinstance(body, str):
        raise Invalid("InvalidRequest", "body must be a string")
    if not body.strip():
        raise Invalid("EmptyBody", "body must not be empty")
    if len(body) > MAX_BODY:
        raise Invalid("BodyTooLong", f"body is {len(body)} characters; the limit is {MAX_BODY}")
    return body


class Messaging:
    """Sending, reading and listing messages."""

    def __init__(self, store: Store, clock: Clock, log: EventLog, people: People, sends: SendLimit) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.people = people
        self.sends = sends

    def view_of(self, repo: ReadTx, message: Message, conversation: Conversation | None = None) -> MessageView:
        """Resolve the handles of a message."""
        conv = conversation or repo.get_conversation(message.conversation_pk)
        assert conv is not None
        people = repo.users_by_pk(p for p in (message.sender_pk, message.recipient_pk) if p)
        recipient = people[message.recipient_pk].handle if message.recipient_pk else None
        return decorated(repo, [MessageView(message, people[message.sender_pk].handle, recipient, conv)])[0]

    def parent_in(self, repo: ReadTx, viewer: User, conv: Conversation | None, public_id: Any) -> Message:
        """The message a reply answers: one the viewer may see, in the same conversation (InvalidReply)."""
        parent = repo.get_message(public_id) if isinstance(public_id, str) else None
        where = repo.get_conversation(parent.conversation_pk) if parent else None
        if parent is None or where is None or conv is None or where.pk != conv.pk:
            raise Invalid("InvalidReply", f"reply_to {public_id!r} is not a message of this conversation")
        if not access.can_see(repo, viewer, parent, where):
            raise Invalid("InvalidReply", f"reply_to {public_id!r} is not a message of this conversation")
        return parent

    # ---- DMs ----------------------------------------------------------------------
    async def send_dm(
        self, actor_pk: int, to: str, body: Any, idempotency_key: str | None = None, reply_to: str | None = None
    ) -> MessageView:
        """Send a DM (`reply_to`: a message of the same DM it answers). With an idempotency key a retry
        returns the first message and stores nothing."""
        body = check_body(body)
        if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY):
            raise Invalid("InvalidIdempotencyKey", "Idempotency-Key must be 1-255 characters")
        self.sends.count(actor_pk)

        def run(tx: WriteTx) -> MessageView:
            earlier = self.replay(tx, actor_pk, idempotency_key, "dm")
            if earlier is not None:
                return earlier
            now = self.clock.now()
            # Sender, recipient and their DM in one statement: the three lookups of every send.
            found_sender, found_recipient, conv = tx.dm_parties(actor_pk, to)
            sender = still_there(found_sender)
            recipient = self.people.found(found_recipient, to)
            if recipient.pk == sender.pk:
                raise Invalid("InvalidRecipient", "you cannot send a direct message to yourself")
            parent = self.parent_in(tx, sender, conv, reply_to) if reply_to is not None else None
            if conv is None:
                conv = self.dm(tx, sender.pk, recipient.pk, now)
            view = self.post(tx, sender, conv, body, now, recipient=recipient, parent=parent)
            self.remember(tx, actor_pk, idempotency_key, view.message.pk, now)
            self.people.touch(tx, sender.pk, now, user=sender)
            return view

        return await self.store.write(run)

    def post(
        self,
        tx: WriteTx,
        actor: User,
        conv: Conversation,
        body: str,
        now: int,
        *,
        recipient: User | None = None,
        parent: Message | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> MessageView:
        """Store a message in any kind of conversation and announce it: one `message sent` event,
        to those who may see it. Every dialect's send comes through here."""
        public_id = new_message_id()
        recipient_pk = recipient.pk if recipient else None
        parent_pk = parent.pk if parent else None
        pk = tx.insert_message(
            public_id=public_id,
            conversation_pk=conv.pk,
            sender_pk=actor.pk,
            recipient_pk=recipient_pk,
            body=body,
            parent_pk=parent_pk,
            attachments=attachments,
            created_at=now,
            deleted=False,
        )
        message = Message(
            pk, public_id, conv.pk, actor.pk, recipient_pk, body, parent_pk, now, None, False, attachments
        )
        view = MessageView(
            message, actor.handle, recipient.handle if recipient else None, conv, parent.public_id if parent else None
        )
        self.log.emit(tx, access.audience(tx, conv), MessageSent(now, view))
        return view

    def replay(self, tx: WriteTx, actor_pk: int, key: str | None, kind: str) -> MessageView | None:
        """The message an earlier request with this Idempotency-Key created, if any.

        `kind` is the conversation kind this request sends to (dm, channel, convo, stream): a key
        first used for another kind of send is refused rather than answered with that message.
        """
        if key is None:
            return None
        earlier = tx.get_idempotent(actor_pk, key)
        if earlier is None:
            return None
        message = tx.get_message_pk(int(earlier["message_pk"]))
        assert message is not None
        view = self.view_of(tx, message)
        if view.conversation.kind != kind:
            raise Conflict("IdempotencyKeyReused", "this Idempotency-Key was already used for a different request")
        return view

    @staticmethod
    def remember(tx: WriteTx, actor_pk: int, key: str | None, message_pk: int, now: int) -> None:
        """Keep what a request with an Idempotency-Key created, for its retries."""
        if key is not None:
            tx.put_idempotent(actor_pk, key, {"message_pk": message_pk}, now)

    @staticmethod
    def dm(tx: WriteTx, a: int, b: int, now: int) -> Conversation:
        """The DM conversation of two users, created on first use."""
        conv = tx.get_dm(a, b)
        if conv is None:
            low, high = sorted((a, b))
            tx.insert_conversation(kind="dm", user_a=low, user_b=high, created_at=now, deleted=False)
            conv = tx.get_dm(a, b)
            assert conv is not None
        return conv

    def visible(self, repo: ReadTx, viewer: User, public_id: str) -> tuple[Message, Conversation]:
        """A message the viewer may see, or MessageNotFound."""
        message = repo.get_message(public_id) if isinstance(public_id, str) else None
        conv = repo.get_conversation(message.conversation_pk) if message else None
        if message is None or conv is None or not access.can_see(repo, viewer, message, conv):
            raise NotFound("MessageNotFound", f"no message {public_id!r}")
        return message, conv

    async def get(self, viewer_pk: int, public_id: str) -> MessageView:
        """One message the viewer may see."""

        def run(repo: ReadTx) -> MessageView:
            viewer = actor_of(repo, viewer_pk)
            message, conv = self.visible(repo, viewer, public_id)
            return self.view_of(repo, message, conv)

        return await self.store.read(run)

    async def history(
        self,
        viewer_pk: int,
        *,
        to: str | None = None,
        sender: str | None = None,
        with_: str | None = None,
        since: int | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> Page:
        """The viewer's DMs: to someone, from someone, with someone (both ways), or all."""
        if sum(x is not None for x in (to, sender, with_)) > 1:
            raise Invalid("InvalidRequest", "use only one of to, from and with")

        def run(repo: ReadTx) -> Page:
            viewer = actor_of(repo, viewer_pk)
            partner_handle = to or sender or with_
            sender_pk: int | None = None
            if partner_handle is not None:
                partner = self.people.find(repo, partner_handle)
                conv = repo.get_dm(viewer.pk, partner.pk)
                convs = [conv] if conv else []
                sender_pk = viewer.pk if to is not None else partner.pk if sender is not None else None
            else:
                convs = repo.dm_conversations_of(viewer.pk)
            before_pk: int | None = None
            if before is not None:
                anchor, _ = self.visible(repo, viewer, before)
                before_pk = anchor.pk
            if not convs:
                return Page([], 0, None)
            pks = [c.pk for c in convs]
            messages, total = repo.dm_messages(
                conversation_pks=pks, sender_pk=sender_pk, since=since, before_pk=before_pk, limit=limit
            )
            by_pk = {c.pk: c for c in convs}
            people = repo.users_by_pk({m.sender_pk for m in messages} | {m.recipient_pk or 0 for m in messages})
            items = [
                MessageView(
                    m,
                    people[m.sender_pk].handle,
                    people[m.recipient_pk].handle if m.recipient_pk in people else None,
                    by_pk[m.conversation_pk],
                )
                for m in messages
            ]
            more = bool(messages) and repo.has_older(pks, sender_pk, since, messages[0].pk)
            return Page(decorated(repo, items), total, messages[0].public_id if more else None)

        return await self.store.read(run)

    async def mark_read(self, reader_pk: int, public_id: str) -> Message:
        """Mark a message, and every earlier unread one from the same sender, read. Idempotent."""

        def run(tx: WriteTx) -> Message:
            now = self.clock.now()
            reader = actor_of(tx, reader_pk)
            message, conv = self.visible(tx, reader, public_id)
            if conv.kind == "channel":
                return self._mark_channel_read(tx, reader, message, conv, now)
            if message.recipient_pk != reader.pk:
                raise Forbidden("NotRecipient", "only the recipient can mark a message read")
            marked = tx.unread_to(conv.pk, reader.pk, message.pk)
            if marked:
                tx.set_read_at(conv.pk, reader.pk, message.pk, now)
            self._move_marker(tx, conv, reader, message, now)
            if marked:
                # One event names the newest message newly read; its senders and the reader are told.
                audience = frozenset({reader.pk, *(m.sender_pk for m in marked)})
                self.log.emit(tx, audience, MessageRead(now, marked[-1].public_id, reader.handle))
            self.people.touch(tx, reader.pk, now)
            fresh = tx.get_message_pk(message.pk)
            assert fresh is not None
            return fresh

        return await self.store.write(run)

    @staticmethod
    def _move_marker(tx: WriteTx, conv: Conversation, reader: User, message: Message, now: int) -> bool:
        """Move the reader's read marker in a conversation forward to a message; it never moves back.
        Whether it moved."""
        marker = tx.read_marker(conv.pk, reader.pk)
        if marker is not None and marker >= message.pk:
            return False
        tx.put_read_marker(conv.pk, reader.pk, message.pk, now)
        return True

    def _mark_channel_read(self, tx: WriteTx, reader: User, message: Message, conv: Conversation, now: int) -> Message:
        """A channel is read up to a message by moving the reader's marker; only the reader is told
        (channels have no receipts)."""
        if self._move_marker(tx, conv, reader, message, now):
            event = MessageRead(now, message.public_id, reader.handle, channel=conv.public_id)
            self.log.emit(tx, frozenset({reader.pk}), event)
        self.people.touch(tx, reader.pk, now)
        return replace(message, read_at=now)  # the answer says when it was read; nothing else keeps it

    async def delete(self, actor_pk: int, public_id: str) -> None:
        """Remove a message (its sender, or an admin in a channel or a stream), in any dialect; those
        who could see it are told. Its body goes from storage: the row, the search index (the store
        keeps it in step) and the stored events that carried it, so no replay sends it again."""

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            message, conv = self.visible(tx, actor, public_id)
            if message.sender_pk != actor.pk and not (actor.is_admin and conv.kind in ("channel", "stream")):
                why = "only the sender or an admin (in a channel or a stream) can delete a message"
                raise Forbidden("NotSender", why)
            tx.delete_message(message.pk)
            tx.clear_reactions(message.pk)
            for event in tx.events_carrying(message.public_id):
                tx.replace_event(without_body(event, message.public_id))
            self.log.emit(tx, access.audience(tx, conv), MessageDeleted(now, message.public_id))
            self.people.touch(tx, actor.pk, now)

        await self.store.write(run)

    async def conversations(self, viewer_pk: int) -> list[ConversationSummary]:
        """Every DM partner with the unread count and newest message, newest first."""

        def run(repo: ReadTx) -> list[ConversationSummary]:
            viewer = actor_of(repo, viewer_pk)
            convs = repo.dm_conversations_of(viewer.pk)
            unread = repo.unread_dm_counts(viewer.pk)
            last = repo.last_messages([c.pk for c in convs])
            partners = repo.users_by_pk((c.user_b if c.user_a == viewer.pk else c.user_a) or 0 for c in convs)
            handles = {**{u.pk: u.handle for u in partners.values()}, viewer.pk: viewer.handle}
            out = []
            for conv in convs:
                partner_pk = conv.user_b if conv.user_a == viewer.pk else conv.user_a
                if partner_pk not in partners:
                    continue
                newest = last.get(conv.pk)
                view = None
                if newest is not None:
                    recipient = handles.get(newest.recipient_pk or 0)
                    view = MessageView(newest, handles[newest.sender_pk], recipient, conv)
                out.append(ConversationSummary(partners[partner_pk].handle, unread.get(conv.pk, 0), view))
            out.sort(key=lambda s: s.last.message.pk if s.last else 0, reverse=True)
            shown = iter(decorated(repo, [s.last for s in out if s.last is not None]))
            return [replace(s, last=next(shown)) if s.last is not None else s for s in out]

        return await self.store.read(run)
