"""Queries for the Convos dialect (mixed into Repo)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, func, or_, select, update

from server.model import Conversation, Message
from server.store import schema as s

_C = s.conversations
_M = s.messages
# The columns of the plain records (the conversations table holds more than a Conversation).
_CONVERSATION_COLUMNS = [_C.c[f.name] for f in fields(Conversation)]
_MESSAGE_COLUMNS = [_M.c[f.name] for f in fields(Message)]


@dataclass(frozen=True, slots=True)
class ConvoRow:
    """A convo with what its listing shows: when it changed, its newest live message, how many live messages."""

    conversation: Conversation
    updated_at: int
    last_message_at: int | None
    num_messages: int


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(**{f.name: row._mapping[f.name] for f in fields(Conversation)})


def _message(row: Row[Any]) -> Message:
    return Message(**{f.name: row._mapping[f.name] for f in fields(Message)})


def _convos_of(user_pk: int) -> ColumnElement[bool]:
    return and_(
        _C.c.kind == "convo",
        _C.c.deleted.is_(False),
        or_(_C.c.user_a == user_pk, _C.c.user_b == user_pk),
    )


class ConvoQueries:
    """Table access for convos; `conn` is the transaction's connection."""

    conn: Connection

    # ---- convos -------------------------------------------------------------------
    def convos_of(self, user_pk: int) -> list[Conversation]:
        """The live convos a user takes part in, oldest first."""
        rows = self.conn.execute(select(*_CONVERSATION_COLUMNS).where(_convos_of(user_pk)).order_by(_C.c.pk))
        return [_conversation(r) for r in rows]

    def get_convo(self, pk: int) -> ConvoRow | None:
        """The convo with this pk (deleted ones included), with its counts."""
        rows = self._convo_rows(and_(_C.c.pk == pk, _C.c.kind == "convo"), offset=0, limit=1)
        return rows[0] if rows else None

    def convo_page(
        self, user_pk: int, *, before: int, offset: int, limit: int
    ) -> tuple[list[ConvoRow], int, int | None]:
        """A page of a user's live convos created before `before`, the total, and the newest creation time.

        Ordered by the newest message (convos without one last), then by creation, newest first.
        """
        where = and_(_convos_of(user_pk), _C.c.created_at < before)
        total, newest = self.conn.execute(select(func.count(), func.max(_C.c.created_at)).where(where)).one()
        if not total:
            return [], 0, None
        return self._convo_rows(where, offset=offset, limit=limit), int(total), newest

    def _convo_rows(self, where: ColumnElement[bool], *, offset: int, limit: int) -> list[ConvoRow]:
        stats = (
            select(
                _M.c.conversation_pk,
                func.max(_M.c.created_at).label("last_at"),
                func.count().label("live"),
            )
            .where(_M.c.deleted.is_(False), _M.c.conversation_pk.in_(select(_C.c.pk).where(where)))
            .group_by(_M.c.conversation_pk)
            .subquery()
        )
        query: Select[Any] = (
            select(*_CONVERSATION_COLUMNS, _C.c.updated_at, stats.c.last_at, stats.c.live)
            .select_from(_C.outerjoin(stats, stats.c.conversation_pk == _C.c.pk))
            .where(where)
            .order_by(stats.c.last_at.desc().nulls_last(), _C.c.created_at.desc(), _C.c.pk.desc())
            .offset(offset)
            .limit(limit)
        )
        out = []
        for row in self.conn.execute(query):
            m = row._mapping
            updated = m["updated_at"] if m["updated_at"] is not None else m["created_at"]
            out.append(ConvoRow(_conversation(row), updated, m["last_at"], int(m["live"] or 0)))
        return out

    def set_convo_subject(self, pk: int, subject: str | None, at: int) -> None:
        """Change the subject of a convo."""
        self.conn.execute(update(_C).where(_C.c.pk == pk).values(subject=subject, updated_at=at))

    # ---- convo messages -----------------------------------------------------------
    def convo_message_page(
        self, conversation_pk: int, *, before: int, offset: int, limit: int
    ) -> tuple[list[Message], int, int | None]:
        """A page of the live messages created before `before`, newest first; the total; the newest time."""
        where = and_(_M.c.conversation_pk == conversation_pk, _M.c.deleted.is_(False), _M.c.created_at < before)
        total, newest = self.conn.execute(select(func.count(), func.max(_M.c.created_at)).where(where)).one()
        if not total:
            return [], 0, None
        rows = self.conn.execute(
            select(*_MESSAGE_COLUMNS)
            .where(where)
            .order_by(_M.c.created_at.desc(), _M.c.pk.desc())
            .offset(offset)
            .limit(limit)
        )
        return [_message(r) for r in rows], int(total), newest

    def thread_roots(self, message_pks: Iterable[int]) -> dict[int, int]:
        """For each message, the pk of the first message of its reply chain (itself when it replies to none)."""
        wanted = list(set(message_pks))
        if not wanted:
            return {}
        up = (
            select(_M.c.pk.label("start"), _M.c.pk.label("pk"), _M.c.parent_pk.label("parent"))
            .where(_M.c.pk.in_(wanted))
            .cte("up", recursive=True)
        )
        parent = _M.alias("parent_message")
        up = up.union_all(
            select(up.c.start, parent.c.pk, parent.c.parent_pk).select_from(parent.join(up, parent.c.pk == up.c.parent))
        )
        rows = self.conn.execute(select(up.c.start, up.c.pk).where(up.c.parent.is_(None)))
        return {r[0]: r[1] for r in rows}

    def public_ids(self, message_pks: Iterable[int]) -> dict[int, str]:
        """The public ids of these messages."""
        wanted = list(set(message_pks))
        if not wanted:
            return {}
        rows = self.conn.execute(select(_M.c.pk, _M.c.public_id).where(_M.c.pk.in_(wanted)))
        return {r[0]: r[1] for r in rows}

    def set_message_body(self, pk: int, body: str) -> None:
        """Change the body of a message."""
        self.conn.execute(update(_M).where(_M.c.pk == pk).values(body=body))
