"""Conversations (DMs and channels) and the messages of every kind of conversation: reading them,
what is unread, read markers, and the answers kept for Idempotency-Key retries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from server.model import Conversation, Message, User
from server.store import schema as s
from server.store.rows import Queries, columns, field_names, record, records
from server.store.users import USER_COLUMNS as _USER

_C, _M, _RM = s.conversations, s.messages, s.read_markers
_CONVERSATION = columns(_C, Conversation)
_MESSAGE = columns(_M, Message)
# Statements of the hot paths (every send, every request), built once.
_DM = select(*_CONVERSATION).where(_C.c.kind == "dm", _C.c.user_a == bindparam("a"), _C.c.user_b == bindparam("b"))
_CONVERSATION_BY_PK = select(*_CONVERSATION).where(_C.c.pk == bindparam("pk"))
_INSERT_MESSAGE = insert(_M)
_MESSAGE_BY_PK = select(*_MESSAGE).where(_M.c.pk == bindparam("pk"))
_MESSAGE_BY_ID = select(*_MESSAGE).where(_M.c.public_id == bindparam("public_id"))
_BODY = field_names(Message).index("body")


def _dm_parties_statement() -> Any:
    """A sender by pk, a recipient by handle and their DM, in one statement (each part may be missing)."""
    sender, recipient, dm = s.users.alias("sender"), s.users.alias("recipient"), _C.alias("dm")
    low = case((sender.c.pk < recipient.c.pk, sender.c.pk), else_=recipient.c.pk)
    high = case((sender.c.pk < recipient.c.pk, recipient.c.pk), else_=sender.c.pk)
    return (
        select(
            *(sender.c[name] for name in field_names(User)),
            *(recipient.c[name] for name in field_names(User)),
            *(dm.c[name] for name in field_names(Conversation)),
        )
        .select_from(
            sender.outerjoin(recipient, recipient.c.handle == bindparam("handle")).outerjoin(
                dm, and_(dm.c.kind == "dm", dm.c.user_a == low, dm.c.user_b == high)
            )
        )
        .where(sender.c.pk == bindparam("pk"))
    )


_DM_PARTIES = _dm_parties_statement()


def _part(cls: type, values: Sequence[Any]) -> Any:
    """One table's columns of a joined row as a record; None when its pk (the first) is null."""
    return None if values[0] is None else cls(*values)


def _start_of_body(row: Sequence[Any]) -> Message:
    """A message whose body column holds the first bytes of its UTF-8 (a character cut at the end is left out)."""
    values = list(row)
    values[_BODY] = values[_BODY].decode("utf-8", "ignore")
    return Message(*values)


class MessageReads(Queries):
    """Reading conversations and messages."""

    @staticmethod
    def _body_start(body_bytes: int) -> ColumnElement[Any]:
        """The first body_bytes bytes of a body's UTF-8, as bytes."""
        # Bytes, not characters: SQLite's substr() of text ends at a NUL character.
        return func.substr(cast(_M.c.body, LargeBinary), 1, body_bytes)

    # ---- conversations ------------------------------------------------------------
    def get_conversation(self, pk: int) -> Conversation | None:
        """The conversation with this pk."""
        return record(Conversation, self._first(_CONVERSATION_BY_PK, {"pk": pk}))

    def get_conversation_by_public_id(self, public_id: str) -> Conversation | None:
        """The conversation with this public id (channels, streams)."""
        row = self.conn.execute(select(*_CONVERSATION).where(_C.c.public_id == public_id)).first()
        return record(Conversation, row)

    def get_dm(self, user_a: int, user_b: int) -> Conversation | None:
        """The DM between two users, if one exists."""
        a, b = sorted((user_a, user_b))
        return record(Conversation, self._first(_DM, {"a": a, "b": b}))

    def dm_parties(self, sender_pk: int, handle: str) -> tuple[User | None, User | None, Conversation | None]:
        """The sender, the user with this handle and the DM between them, if each exists (the three lookups
        of every DM sent, in one statement)."""
        row = self._first(_DM_PARTIES, {"pk": sender_pk, "handle": handle})
        if row is None:
            return None, None, None
        users = len(_USER)
        return (
            _part(User, row[:users]),
            _part(User, row[users : 2 * users]),
            _part(Conversation, row[2 * users :]),
        )

    def get_channel_by_key(self, name_key: str) -> Conversation | None:
        """The channel whose normalised name is this key."""
        row = self.conn.execute(select(*_CONVERSATION).where(_C.c.kind == "channel", _C.c.name_key == name_key)).first()
        return record(Conversation, row)

    def list_channels(self) -> list[Conversation]:
        """Live channels, oldest first."""
        rows = self.conn.execute(
            select(*_CONVERSATION).where(_C.c.kind == "channel", _C.c.deleted.is_(False)).order_by(_C.c.pk)
        )
        return records(Conversation, rows)

    def dm_conversations_of(self, user_pk: int) -> list[Conversation]:
        """Every DM the user is part of."""
        rows = self.conn.execute(
            select(*_CONVERSATION).where(_C.c.kind == "dm", or_(_C.c.user_a == user_pk, _C.c.user_b == user_pk))
        )
        return records(Conversation, rows)

    # ---- messages -----------------------------------------------------------------
    def get_message(self, public_id: str) -> Message | None:
        """The message with this public id."""
        return record(Message, self._first(_MESSAGE_BY_ID, {"public_id": public_id}))

    def get_message_pk(self, pk: int) -> Message | None:
        """The message with this pk."""
        return record(Message, self._first(_MESSAGE_BY_PK, {"pk": pk}))

    def public_ids(self, message_pks: Iterable[int]) -> dict[int, str]:
        """The public ids of these messages, by pk."""
        wanted = sorted(set(message_pks))
        out: dict[int, str] = {}
        for start in range(0, len(wanted), 10_000):  # in slices: SQLite binds at most 32,766 values at once
            part = wanted[start : start + 10_000]
            out |= {r[0]: r[1] for r in self.conn.execute(select(_M.c.pk, _M.c.public_id).where(_M.c.pk.in_(part)))}
        return out

    def dm_messages(
        self,
        *,
        conversation_pks: Sequence[int],
        sender_pk: int | None,
        since: int | None,
        before_pk: int | None,
        limit: int,
    ) -> tuple[list[Message], int]:
        """The newest `limit` matching messages older than before_pk (ascending) and the total."""
        where: list[ColumnElement[bool]] = [_M.c.conversation_pk.in_(list(conversation_pks)), _M.c.deleted.is_(False)]
        if sender_pk is not None:
            where.append(_M.c.sender_pk == sender_pk)
        if since is not None:
            where.append(_M.c.created_at >= since)
        total = int(self.conn.execute(select(func.count()).select_from(_M).where(*where)).scalar_one())
        if before_pk is not None:
            where.append(_M.c.pk < before_pk)
        rows = self.conn.execute(select(*_MESSAGE).where(*where).order_by(_M.c.pk.desc()).limit(limit)).all()
        return records(Message, reversed(rows)), total

    def has_older(self, conversation_pks: Sequence[int], sender_pk: int | None, since: int | None, pk: int) -> bool:
        """Whether a matching message older than pk exists."""
        where: list[ColumnElement[bool]] = [
            _M.c.conversation_pk.in_(list(conversation_pks)),
            _M.c.deleted.is_(False),
            _M.c.pk < pk,
        ]
        if sender_pk is not None:
            where.append(_M.c.sender_pk == sender_pk)
        if since is not None:
            where.append(_M.c.created_at >= since)
        return self.conn.execute(select(_M.c.pk).where(*where).limit(1)).first() is not None

    def unread_to(self, conversation_pk: int, reader_pk: int, upto_pk: int) -> list[Message]:
        """The reader's unread messages in a conversation up to upto_pk, oldest first."""
        where = self._unread_to(conversation_pk, reader_pk, upto_pk)
        return records(Message, self.conn.execute(select(*_MESSAGE).where(where).order_by(_M.c.pk)))

    @staticmethod
    def _unread_to(conversation_pk: int, reader_pk: int, upto_pk: int) -> ColumnElement[bool]:
        return and_(
            _M.c.conversation_pk == conversation_pk,
            _M.c.recipient_pk == reader_pk,
            _M.c.read_at.is_(None),
            _M.c.pk <= upto_pk,
        )

    def read_marker(self, conversation_pk: int, reader_pk: int) -> int | None:
        """The pk of the message a reader has read a conversation up to, if any."""
        row = self.conn.execute(
            select(_RM.c.message_pk).where(_RM.c.conversation_pk == conversation_pk, _RM.c.reader_pk == reader_pk)
        ).first()
        return None if row is None else int(row[0])

    def unread_dm_counts(self, user_pk: int) -> dict[int, int]:
        """Unread DM messages per conversation for a recipient."""
        rows = self.conn.execute(
            select(_M.c.conversation_pk, func.count())
            .where(_M.c.recipient_pk == user_pk, _M.c.read_at.is_(None), _M.c.deleted.is_(False))
            .group_by(_M.c.conversation_pk)
        )
        return {r[0]: int(r[1]) for r in rows}

    @staticmethod
    def _unread_in_channels(user_pk: int) -> ColumnElement[bool]:
        """Live messages of live channels, from others, past the user's read marker there."""
        marker = (
            select(_RM.c.message_pk)
            .where(_RM.c.conversation_pk == _M.c.conversation_pk, _RM.c.reader_pk == user_pk)
            .scalar_subquery()
        )
        live_channel = select(_C.c.pk).where(_C.c.kind == "channel", _C.c.deleted.is_(False))
        return and_(
            _M.c.conversation_pk.in_(live_channel),
            _M.c.sender_pk != user_pk,
            _M.c.deleted.is_(False),
            _M.c.pk > func.coalesce(marker, 0),
        )

    def unread_channel_counts(self, user_pk: int) -> dict[int, int]:
        """Unread messages per channel for a user (past their read marker, not their own)."""
        rows = self.conn.execute(
            select(_M.c.conversation_pk, func.count())
            .where(self._unread_in_channels(user_pk))
            .group_by(_M.c.conversation_pk)
        )
        return {r[0]: int(r[1]) for r in rows}

    def unread_channel_bodies_with(self, user_pk: int, needle: str, limit: int) -> list[tuple[int, str]]:
        """(channel, body) of at most `limit` unread channel messages whose body contains `needle`."""
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            select(_M.c.conversation_pk, _M.c.body)
            .where(self._unread_in_channels(user_pk), _M.c.body.like(f"%{escaped}%", escape="\\"))
            .limit(limit)
        )
        return [(r[0], r[1]) for r in rows]

    def last_messages(self, conversation_pks: Sequence[int]) -> dict[int, Message]:
        """The newest live message of each conversation."""
        if not conversation_pks:
            return {}
        newest = (
            select(func.max(_M.c.pk))
            .where(_M.c.conversation_pk.in_(list(conversation_pks)), _M.c.deleted.is_(False))
            .group_by(_M.c.conversation_pk)
        )
        rows = self.conn.execute(select(*_MESSAGE).where(_M.c.pk.in_(newest)))
        return {m.conversation_pk: m for m in records(Message, rows)}

    def messages_in(self, conversation_pks: Sequence[int], newest: int = 0, body_bytes: int = 0) -> list[Message]:
        """The live messages of these conversations (the newest `newest` of each; 0 = all), oldest first;
        with body_bytes, only the first body_bytes bytes of each body's UTF-8 are read (a character
        cut in two at the end is left out)."""
        if not conversation_pks:
            return []
        selected: list[Any] = list(_MESSAGE)
        if body_bytes > 0:
            selected[_BODY] = self._body_start(body_bytes).label("body")
        live = (_M.c.conversation_pk.in_(list(conversation_pks)), _M.c.deleted.is_(False))
        if newest <= 0:
            query = select(*selected).where(*live)
        else:
            # Per conversation, the pk of its newest-th newest message (an index seek each), then
            # one range scan per conversation from there: a window function would rank every row.
            older = _M.alias("older")
            cutoff = (
                select(older.c.pk)
                .where(older.c.conversation_pk == _C.c.pk, older.c.deleted.is_(False))
                .order_by(older.c.pk.desc())
                .limit(1)
                .offset(newest - 1)
                .scalar_subquery()
            )
            cut = (
                select(_C.c.pk.label("conv"), func.coalesce(cutoff, 0).label("start"))
                .where(_C.c.pk.in_(list(conversation_pks)))
                .subquery()
            )
            query = (
                select(*selected)
                .join(cut, _M.c.conversation_pk == cut.c.conv)
                .where(_M.c.pk >= cut.c.start, _M.c.deleted.is_(False))
            )
        rows = self.conn.execute(query.order_by(_M.c.pk)).all()
        return [_start_of_body(r) for r in rows] if body_bytes > 0 else records(Message, rows)

    # ---- idempotency --------------------------------------------------------------
    def get_idempotent(self, user_pk: int, key: str) -> Any | None:
        """The stored response of an earlier request with this key."""
        i = s.idempotency
        return self.conn.execute(
            select(i.c.response).where(i.c.user_pk == user_pk, i.c.key == key)
        ).scalar_one_or_none()


class MessageWrites(MessageReads):
    """Changing conversations and messages."""

    def insert_conversation(self, **values: Any) -> int:
        """Insert a conversation; returns its pk."""
        return self._new(insert(_C).values(**values))

    def delete_conversation(self, pk: int) -> None:
        """Mark a conversation deleted (its name is freed)."""
        self.conn.execute(update(_C).where(_C.c.pk == pk).values(deleted=True, name_key=None))

    def insert_message(self, **values: Any) -> int:
        """Insert a message; returns its pk."""
        return self._insert(_INSERT_MESSAGE, values)

    def delete_message(self, pk: int) -> None:
        """Mark a message deleted and drop its body."""
        self.conn.execute(update(_M).where(_M.c.pk == pk).values(deleted=True, body=""))

    def set_message_body(self, pk: int, body: str, edited_at: int) -> None:
        """Change the body of a message."""
        self.conn.execute(update(_M).where(_M.c.pk == pk).values(body=body, edited_at=edited_at))

    def set_message_attachments(self, pk: int, attachments: list[dict[str, Any]]) -> None:
        """Replace the metadata records of a message."""
        self.conn.execute(update(_M).where(_M.c.pk == pk).values(attachments=attachments))

    def set_read_at(self, conversation_pk: int, reader_pk: int, upto_pk: int, at: int) -> None:
        """Set read_at on the reader's unread messages in a conversation up to upto_pk."""
        self.conn.execute(update(_M).where(self._unread_to(conversation_pk, reader_pk, upto_pk)).values(read_at=at))

    def put_read_marker(self, conversation_pk: int, reader_pk: int, message_pk: int, at: int) -> None:
        """Set where a reader has read a conversation up to."""
        where = (_RM.c.conversation_pk == conversation_pk, _RM.c.reader_pk == reader_pk)
        if self.conn.execute(select(_RM.c.message_pk).where(*where)).first() is None:
            self.conn.execute(
                insert(_RM).values(
                    conversation_pk=conversation_pk, reader_pk=reader_pk, message_pk=message_pk, read_at=at
                )
            )
        else:
            self.conn.execute(update(_RM).where(*where).values(message_pk=message_pk, read_at=at))

    def put_idempotent(self, user_pk: int, key: str, response: Any, at: int) -> None:
        """Remember the response of a request with this key."""
        self.conn.execute(insert(s.idempotency).values(user_pk=user_pk, key=key, response=response, created_at=at))

    def prune_idempotency(self, before: int) -> None:
        """Forget idempotency keys older than `before`."""
        self.conn.execute(delete(s.idempotency).where(s.idempotency.c.created_at < before))
