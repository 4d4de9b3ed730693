"""Convos (seed 002): two-person conversations with a subject.

A convo is seen by its two participants only (its creator and the participant named at
creation); to anyone else it does not exist (NotFound). Among the participants, the
creator alone may change the subject or delete the convo, and the sender alone may edit
a message's body: those refusals are Forbidden. A convo message is an ordinary message
(kind "convo"): reading, marking read and deleting one follow the rules of
`domain.messages` and `domain.channels`, whichever dialect asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from server.domain import timefmt
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.messaging import MAX_IDEMPOTENCY_KEY, check_body
from server.domain.names import name_problem
from server.model import Conversation, Message, User, Variant
from server.store.base import WriteTx
from server.store.convo_queries import ConvoRow
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain

T = TypeVar("T")
MAX_SUBJECT = 140
MAX_PAGE = 50
# Far enough for any real page, small enough that index * count stays a 64-bit offset.
MAX_INDEX = 1_000_000_000
UNSET: Any = object()


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

    def __init__(self, domain: Domain) -> None:
        self.d = domain

    def conversations_of(self, repo: Repo, viewer: User) -> list[Conversation]:
        """The live convos a user takes part in (their messages go into boot)."""
        return repo.convos_of(viewer.pk)

    # ---- visibility ---------------------------------------------------------------
    def convo(self, repo: Repo, viewer: User, convo_pk: int) -> ConvoRow:
        """A live convo the viewer takes part in, or ConvoNotFound."""
        row = repo.get_convo(convo_pk)
        conv = row.conversation if row else None
        if row is None or conv is None or conv.deleted or viewer.pk not in (conv.user_a, conv.user_b):
            raise NotFound("ConvoNotFound", f"Convo {convo_pk} was not found")
        return row

    def message_in(self, repo: Repo, viewer: User, conv: Conversation, public_id: str) -> Message:
        """A live message of this convo the viewer may see, or MessageNotFound."""
        message = repo.get_message(public_id)
        if (
            message is None
            or message.conversation_pk != conv.pk
            or not self.d.messages.can_see(repo, viewer, message, conv)
        ):
            raise NotFound("MessageNotFound", f"Could not find message {public_id!r} in convo {conv.pk}")
        return message

    def views(self, repo: Repo, messages: list[Message]) -> list[ConvoMessage]:
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

    def event(self, tx: WriteTx, conv: Conversation, what: str, now: int) -> None:
        """Emit `convo created|updated|deleted` to the two participants."""
        creator = conv.creator_pk or 0
        participant = participant_of(conv)
        people = tx.users_by_pk((creator, participant))
        data = {
            "type": "convo",
            "event": what,
            "at": timefmt.precise(now),
            "id": conv.pk,
            "creator": people[creator].handle,
            "participant": people[participant].handle,
            "subject": conv.subject,
        }
        tx.emit(now, [Variant(frozenset({creator, participant}), data)])

    # ---- convos -------------------------------------------------------------------
    async def inbox(self, viewer_pk: int, *, before: int, index: int, count: int) -> Listing[ConvoRow]:
        """A page of the viewer's convos created before `before`."""
        check_page(index, count)

        def run(repo: Repo) -> Listing[ConvoRow]:
            viewer = self.d.actor(repo, viewer_pk)
            rows, total, newest = repo.convo_page(viewer.pk, before=before, offset=index * count, limit=count)
            return Listing(rows, total, newest)

        return await self.d.store.read(run)

    async def get(self, viewer_pk: int, convo_pk: int) -> ConvoRow:
        """One convo the viewer takes part in."""
        return await self.d.store.read(lambda repo: self.convo(repo, self.d.actor(repo, viewer_pk), convo_pk))

    async def create(self, actor_pk: int, participant_pk: int, subject: Any) -> Conversation:
        """A new convo between the actor (its creator) and another user."""
        subject = check_subject(subject)

        def run(tx: WriteTx) -> Conversation:
            now = self.d.clock.now()
            actor = self.d.actor(tx, actor_pk)
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
            self.d.people.touch(tx, actor.pk, now)
            return conv

        return await self.d.store.write(run)

    async def patch(self, actor_pk: int, convo_pk: int, subject: Any) -> None:
        """Change the subject (the creator only)."""
        subject = check_subject(subject)

        def run(tx: WriteTx) -> None:
            now = self.d.clock.now()
            actor = self.d.actor(tx, actor_pk)
            conv = self.convo(tx, actor, convo_pk).conversation
            if conv.creator_pk != actor.pk:
                raise Forbidden("NotConvoCreator", "You are unauthorized to update this convo")
            tx.set_convo_subject(conv.pk, subject, now)
            fresh = tx.get_conversation(conv.pk)
            assert fresh is not None
            self.event(tx, fresh, "updated", now)
            self.d.people.touch(tx, actor.pk, now)

        await self.d.store.write(run)

    async def delete(self, actor_pk: int, convo_pk: int) -> None:
        """Remove a convo and, with it, its messages (the creator only)."""

        def run(tx: WriteTx) -> None:
            now = self.d.clock.now()
            actor = self.d.actor(tx, actor_pk)
            conv = self.convo(tx, actor, convo_pk).conversation
            if conv.creator_pk != actor.pk:
                raise Forbidden("NotConvoCreator", "You are unauthorized to delete this convo")
            tx.delete_conversation(conv.pk)
            self.event(tx, conv, "deleted", now)
            self.d.people.touch(tx, actor.pk, now)

        await self.d.store.write(run)

    # ---- messages -----------------------------------------------------------------
    async def messages(
        self, viewer_pk: int, convo_pk: int, *, before: int, index: int, count: int
    ) -> Listing[ConvoMessage]:
        """A page of a convo's messages created before `before`, newest first."""
        check_page(index, count)

        def run(repo: Repo) -> Listing[ConvoMessage]:
            viewer = self.d.actor(repo, viewer_pk)
            conv = self.convo(repo, viewer, convo_pk).conversation
            messages, total, newest = repo.convo_message_page(conv.pk, before=before, offset=index * count, limit=count)
            return Listing(self.views(repo, messages), total, newest)

        return await self.d.store.read(run)

    async def message(self, viewer_pk: int, convo_pk: int, public_id: str) -> ConvoMessage:
        """One message of a convo the viewer takes part in."""

        def run(repo: Repo) -> ConvoMessage:
            viewer = self.d.actor(repo, viewer_pk)
            conv = self.convo(repo, viewer, convo_pk).conversation
            return self.views(repo, [self.message_in(repo, viewer, conv, public_id)])[0]

        return await self.d.store.read(run)

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
        self.d.auth.check_send(actor_pk)

        def run(tx: WriteTx) -> ConvoMessage:
            earlier = self.d.messages.replay(tx, actor_pk, idempotency_key, "convo")
            if earlier is not None:
                if earlier.conversation.pk != convo_pk:
                    raise Invalid("IdempotencyKeyReused", "this Idempotency-Key was used for another conversation")
                return self.views(tx, [earlier.message])[0]
            now = self.d.clock.now()
            actor = self.d.actor(tx, actor_pk)
            conv = self.convo(tx, actor, convo_pk).conversation
            other = partner_of(conv, actor.pk)
            if recipient_pk is not None and recipient_pk != other:
                raise Invalid("InvalidRecipient", "The recipient must be the other participant of this convo")
            parent = self.message_in(tx, actor, conv, parent_id) if parent_id is not None else None
            recipient = tx.get_user(other)
            assert recipient is not None
            view = self.d.messages.post(tx, actor, conv, body, now, recipient=recipient, parent=parent)
            message = view.message
            self.d.messages.remember(tx, actor_pk, idempotency_key, message.pk, now)
            self.d.people.touch(tx, actor.pk, now)
            return self.views(tx, [message])[0]

        return await self.d.store.write(run)

    async def patch_message(
        self, actor_pk: int, convo_pk: int, public_id: str, *, body: Any = UNSET, is_read: bool | None = None
    ) -> None:
        """Edit a body (the sender only) or mark a message read (the recipient only; never back to unread)."""
        if body is UNSET and is_read is None:
            raise Invalid("InvalidRequest", "Invalid Message Patch request: send Body or IsRead")
        if body is not UNSET:
            body = check_body(body)
        if is_read is False:
            raise Invalid("InvalidRequest", "IsRead can only be set to true: a read message stays read")
        if body is UNSET:
            await self.d.store.read(lambda repo: self._find(repo, actor_pk, convo_pk, public_id))
            # The read rule (this message and every earlier unread one, one event) lives in messages.
            await self.d.messages.mark_read(actor_pk, public_id)
            return

        def run(tx: WriteTx) -> None:
            now = self.d.clock.now()
            actor, message = self._find(tx, actor_pk, convo_pk, public_id)
            if message.sender_pk != actor.pk:
                raise Forbidden("NotSender", "You are unauthorized to edit this message")
            if is_read:
                raise Forbidden("NotRecipient", "only the recipient can mark a message read")
            tx.set_message_body(message.pk, body)
            data = {
                "type": "message",
                "event": "updated",
                "at": timefmt.precise(now),
                "id": message.public_id,
                "body": body,
            }
            tx.emit(now, [Variant(frozenset(p for p in (message.sender_pk, message.recipient_pk) if p), data)])
            self.d.people.touch(tx, actor.pk, now)

        await self.d.store.write(run)

    async def delete_message(self, actor_pk: int, convo_pk: int, public_id: str) -> None:
        """Remove a message of a convo (its sender, or an admin taking part, as for every message)."""
        await self.d.store.read(lambda repo: self._find(repo, actor_pk, convo_pk, public_id))
        await self.d.messages.delete(actor_pk, public_id)

    def _find(self, repo: Repo, actor_pk: int, convo_pk: int, public_id: str) -> tuple[User, Message]:
        actor = self.d.actor(repo, actor_pk)
        conv = self.convo(repo, actor, convo_pk).conversation
        return actor, self.message_in(repo, actor, conv, public_id)
