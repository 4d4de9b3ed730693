"""Convos: two-person conversations with a subject.

A convo is seen by its two participants only (its creator and the participant named at
creation); to anyone else it does not exist (NotFound). Among the participants, the
creator alone may change the subject or delete the convo, and the sender alone may edit
a message's body: those refusals are Forbidden. A convo message is an ordinary message
(kind "convo"): reading, marking read and deleting one follow the rules of
`domain.messages` and `domain.channels`, whichever dialect asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from server.domain import access
from server.domain.actors import actor_of
from server.domain.clock import Clock
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.events import Change, ConvoChanged, EventLog, MessageEdited
from server.domain.limits import SendLimit
from server.domain.messaging import MAX_IDEMPOTENCY_KEY, Messaging, check_body
from server.domain.names import name_problem
from server.domain.people import People
from server.model import Conversation, ConvoSummary, Message, User
from server.store.base import ReadTx, Store, WriteTx

T = TypeVar("T")
MAX_SUBJECT = 140
MAX_PAGE = 50
# Far enough for any real page, small enough that index * count stays a 64-bit offset.
MAX_INDEX = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ConvoMessage:
    """A convo message with the public ids of its parent and of the first message of its thread."""

    message: Message
    parent_id: str | None
    thread_id: str | None


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page: its items, how many there are in all, and the newest creation time among them all."""

    items: list[T]
    total: int
    newest: int | None


def check_subject(subject: Any) -> str | None:
    """A convo subject: none, or text of at most 140 characters."""
    if subject is None:
        return None
    if not isinstance(subject, str):
        raise Invalid("InvalidSubject", "the subject must be text")
    if len(subject) > MAX_SUBJECT:
        raise Invalid("SubjectTooLong", f"The maximum number of characters allowed for the subject is {MAX_SUBJECT}")
    problem = name_problem(subject)
    if problem is not None:
        raise Invalid("InvalidSubject", f"the subject: {problem}")
    return subject


def check_page(index: int, count: int) -> None:
    """A page: index from 0, count from 1 to 50."""
    if not 1 <= count <= MAX_PAGE:
        raise Invalid("InvalidCount", f"count must be between 1 and {MAX_PAGE}")
    if not 0 <= index <= MAX_INDEX:
        raise Invalid("InvalidIndex", "index must be 0 or more")


def participant_of(conv: Conversation) -> int:
    """The participant of a convo: the one of its two users who did not create it."""
    return partner_of(conv, conv.creator_pk or 0)


def partner_of(conv: Conversation, user_pk: int) -> int:
    """The other user of a convo."""
    a, b = conv.user_a or 0, conv.user_b or 0
    return b if a == user_pk else a


class Convos:
    """Convo rules."""

    def __init__(
        self, store: Store, clock: Clock, log: EventLog, people: People, messages: Messaging, sends: SendLimit
    ) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.people = people
        self.messaging = messages
        self.sends = sends

    def conversations_of(self, repo: ReadTx, viewer: User) -> list[Conversation]:
        """The live convos a user takes part in (their messages go into boot)."""
        return repo.convos_of(viewer.pk)

    # ---- visibility ---------------------------------------------------------------
    def convo(self, repo: ReadTx, viewer: User, convo_pk: int) -> ConvoSummary:
        """A live convo the viewer takes part in, or ConvoNotFound."""
        row = repo.get_convo(convo_pk)
        conv = row.conversation if row else None
        if row is None or conv is None or conv.deleted or viewer.pk not in (conv.user_a, conv.user_b):
            raise NotFound("ConvoNotFound", f"Convo {convo_pk} was not found")
        return row

    def message_in(self, repo: ReadTx, viewer: User, conv: Conversation, public_id: str) -> Message:
        """A live message of this convo the viewer may see, or MessageNotFound."""
        message = repo.get_message(public_id)
        if message is None or message.conversation_pk != conv.pk or not access.can_see(repo, viewer, message, conv):
            raise NotFound("MessageNotFound", f"Could not find message {public_id!r} in convo {conv.pk}")
        return message

    def views(self, repo: ReadTx, messages: list[Message]) -> list[ConvoMessage]:
        """Messages with the public ids of their parents and thread roots."""
        replies = [m.pk for m in messages if m.parent_pk]
        roots = repo.thread_roots(replies)
        ids = repo.public_ids({m.parent_pk for m in messages if m.parent_pk} | set(roots.values()))
        return [
            ConvoMessage(
                m,
                ids.get(m.parent_pk) if m.parent_pk else None,
                ids.get(roots.get(m.pk, m.parent_pk)) if m.parent_pk else None,
            )
            for m in messages
        ]

    def event(self, tx: WriteTx, conv: Conversation, what: Change, now: int) -> None:
        """Emit `convo created|updated|deleted` to the two participants."""
        creator = conv.creator_pk or 0
        participant = participant_of(conv)
        people = tx.users_by_pk((creator, participant))
        change = ConvoChanged(now, what, conv.pk, people[creator].handle, people[participant].handle, conv.subject)
        self.log.emit(tx, frozenset({creator, participant}), change)

    # ---- convos -------------------------------------------------------------------
    async def inbox(self, viewer_pk: int, *, before: int, index: int, count: int) -> Listing[ConvoSummary]:
        """A page of the viewer's convos created before `before`."""
        check_page(index, count)

        def run(repo: ReadTx) -> Listing[ConvoSummary]:
            viewer = actor_of(repo, viewer_pk)
            rows, total, newest = repo.convo_page(viewer.pk, before=before, offset=index * count, limit=count)
            return Listing(rows, total, newest)

        return await self.store.read(run)

    async def get(self, viewer_pk: int, convo_pk: int) -> ConvoSummary:
        """One convo the viewer takes part in."""
        return await self.store.read(lambda repo: self.convo(repo, actor_of(repo, viewer_pk), convo_pk))

    async def create(self, actor_pk: int, participant_pk: int, subject: Any) -> Conversation:
        """A new convo between the actor (its creator) and another user."""
        subject = check_subject(subject)

        def run(tx: WriteTx) -> Conversation:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            participant = tx.get_user(participant_pk)
            if participant is None:
                raise Invalid("InvalidParticipant", f"Invalid participant: no user {participant_pk}")
            if participant.pk == actor.pk:
                raise Invalid("InvalidParticipant", "Invalid participant: a convo is with someone else")
            pk = tx.insert_conversation(
                kind="convo",
                user_a=actor.pk,
                user_b=participant.pk,
                subject=subject,
                creator_pk=actor.pk,
                created_at=now,
                updated_at=now,
                deleted=False,
            )
            conv = tx.get_conversation(pk)
            assert conv is not None
            self.event(tx, conv, "created", now)
            self.people.touch(tx, actor.pk, now)
            return conv

        return await self.store.write(run)

    async def patch(self, actor_pk: int, convo_pk: int, subject: Any) -> None:
        """Change the subject (the creator only)."""
        subject = check_subject(subject)

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            conv = self.convo(tx, actor, convo_pk).conversation
            if conv.creator_pk != actor.pk:
                raise Forbidden("NotConvoCreator", "You are unauthorized to update this convo")
            tx.set_convo_subject(conv.pk, subject, now)
            fresh = tx.get_conversation(conv.pk)
            assert fresh is not None
            self.event(tx, fresh, "updated", now)
            self.people.touch(tx, actor.pk, now)

        await self.store.write(run)

    async def delete(self, actor_pk: int, convo_pk: int) -> None:
        """Remove a convo and, with it, its messages (the creator only)."""

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            conv = self.convo(tx, actor, convo_pk).conversation
            if conv.creator_pk != actor.pk:
                raise Forbidden("NotConvoCreator", "You are unauthorized to delete this convo")
            tx.delete_conversation(conv.pk)
            self.event(tx, conv, "deleted", now)
            self.people.touch(tx, actor.pk, now)

        await self.store.write(run)

    # ---- messages -----------------------------------------------------------------
    async def messages(
        self, viewer_pk: int, convo_pk: int, *, before: int, index: int, count: int
    ) -> Listing[ConvoMessage]:
        """A page of a convo's messages created before `before`, newest first."""
        check_page(index, count)

        def run(repo: ReadTx) -> Listing[ConvoMessage]:
            viewer = actor_of(repo, viewer_pk)
            conv = self.convo(repo, viewer, convo_pk).conversation
            messages, total, newest = repo.convo_message_page(conv.pk, before=before, offset=index * count, limit=count)
            return Listing(self.views(repo, messages), total, newest)

        return await self.store.read(run)

    async def message(self, viewer_pk: int, convo_pk: int, public_id: str) -> ConvoMessage:
        """One message of a convo the viewer takes part in."""

        def run(repo: ReadTx) -> ConvoMessage:
            viewer = actor_of(repo, viewer_pk)
            conv = self.convo(repo, viewer, convo_pk).conversation
            return self.views(repo, [self.message_in(repo, viewer, conv, public_id)])[0]

        return await self.store.read(run)

    async def send(
        self,
        actor_pk: int,
        convo_pk: int,
        body: Any,
        *,
        recipient_pk: int | None = None,
        parent_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> ConvoMessage:
        """Post to a convo, or (parent_id) reply to one of its messages; the recipient is the other participant."""
        body = check_body(body)
        if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY):
            raise Invalid("InvalidIdempotencyKey", "Idempotency-Key must be 1-255 characters")
        self.sends.count(actor_pk)

        def run(tx: WriteTx) -> ConvoMessage:
            earlier = self.messaging.replay(tx, actor_pk, idempotency_key, "convo")
            if earlier is not None:
                if earlier.conversation.pk != convo_pk:
                    raise Invalid("IdempotencyKeyReused", "this Idempotency-Key was used for another conversation")
                return self.views(tx, [earlier.message])[0]
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            conv = self.convo(tx, actor, convo_pk).conversation
            other = partner_of(conv, actor.pk)
            if recipient_pk is not None and recipient_pk != other:
                raise Invalid("InvalidRecipient", "The recipient must be the other participant of this convo")
            parent = self.message_in(tx, actor, conv, parent_id) if parent_id is not None else None
            recipient = tx.get_user(other)
            assert recipient is not None
            view = self.messaging.post(tx, actor, conv, body, now, recipient=recipient, parent=parent)
            message = view.message
            self.messaging.remember(tx, actor_pk, idempotency_key, message.pk, now)
            self.people.touch(tx, actor.pk, now)
            return self.views(tx, [message])[0]

        return await self.store.write(run)

    async def patch_message(
        self, actor_pk: int, convo_pk: int, public_id: str, *, body: str | None = None, mark_read: bool = False
    ) -> None:
        """Edit a body (the sender only) or mark a message read (the recipient only), or both."""
        if body is None and not mark_read:
            raise Invalid("InvalidRequest", "nothing to change")
        if body is not None:
            body = check_body(body)
        if body is None:
            await self.store.read(lambda repo: self._find(repo, actor_pk, convo_pk, public_id))
            # The read rule (this message and every earlier unread one, one event) lives in messages.
            await self.messaging.mark_read(actor_pk, public_id)
            return
        new_body = body

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            actor, message = self._find(tx, actor_pk, convo_pk, public_id)
            if message.sender_pk != actor.pk:
                raise Forbidden("NotSender", "You are unauthorized to edit this message")
            if mark_read:
                raise Forbidden("NotRecipient", "only the recipient can mark a message read")
            tx.set_message_body(message.pk, new_body, now)
            receivers = frozenset(p for p in (message.sender_pk, message.recipient_pk) if p)
            self.log.emit(tx, receivers, MessageEdited(now, message.public_id, new_body))
            self.people.touch(tx, actor.pk, now)

        await self.store.write(run)

    async def delete_message(self, actor_pk: int, convo_pk: int, public_id: str) -> None:
        """Remove a message of a convo (its sender, or an admin taking part, as for every message)."""
        await self.store.read(lambda repo: self._find(repo, actor_pk, convo_pk, public_id))
        await self.messaging.delete(actor_pk, public_id)

    def _find(self, repo: ReadTx, actor_pk: int, convo_pk: int, public_id: str) -> tuple[User, Message]:
        actor = actor_of(repo, actor_pk)
        conv = self.convo(repo, actor, convo_pk).conversation
        return actor, self.message_in(repo, actor, conv, public_id)
