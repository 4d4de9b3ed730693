"""Convos: two-person conversations with a subject, listed with their counts, and their messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update

from server.model import Conversation, ConvoSummary, Message
from server.store import schema as s
from server.store.rows import Queries, columns, records

_C, _M = s.conversations, s.messages
_CONVERSATION = columns(_C, Conversation)
_MESSAGE = columns(_M, Message)
_FIELDS = len(_CONVERSATION)


def _convos_of(user_pk: int) -> ColumnElement[bool]:
    return and_(_C.c.kind == "convo", _C.c.deleted.is_(False), or_(_C.c.user_a == user_pk, _C.c.user_b == user_pk))


class ConvoReads(Queries):
    """Reading convos and their messages."""

    def convos_of(self, user_pk: int) -> list[Conversation]:
        """The live convos a user takes part in, oldest first."""
        return records(
            Conversation, self.conn.execute(select(*_CONVERSATION).where(_convos_of(user_pk)).order_by(_C.c.pk))
        )

    def get_convo(self, pk: int) -> ConvoSummary | None:
        """The convo with this pk (deleted ones included), with its counts."""
        rows = self._summaries(and_(_C.c.pk == pk, _C.c.kind == "convo"), offset=0, limit=1)
        return rows[0] if rows else None

    def convo_page(
        self, user_pk: int, *, before: int, offset: int, limit: int
    ) -> tuple[list[ConvoSummary], int, int | None]:
        """A page of a user's live convos created before `before`, the total, and the newest creation time.

        Ordered by the newest message (convos without one last), then by creation, newest first.
        """
        where = and_(_convos_of(user_pk), _C.c.created_at < before)
        total, newest = self.conn.execute(select(func.count(), func.max(_C.c.created_at)).where(where)).one()
        if not total:
            return [], 0, None
        return self._summaries(where, offset=offset, limit=limit), int(total), newest

    def _summaries(self, where: ColumnElement[bool], *, offset: int, limit: int) -> list[ConvoSummary]:
        stats = (
            select(_M.c.conversation_pk, func.max(_M.c.created_at).label("last_at"), func.count().label("live"))
            .where(_M.c.deleted.is_(False), _M.c.conversation_pk.in_(select(_C.c.pk).where(where)))
            .group_by(_M.c.conversation_pk)
            .subquery()
        )
        query: Select[Any] = (
            select(
                *_CONVERSATION,
                func.coalesce(_C.c.updated_at, _C.c.created_at),
                stats.c.last_at,
                func.coalesce(stats.c.live, 0),
            )
            .select_from(_C.outerjoin(stats, stats.c.conversation_pk == _C.c.pk))
            .where(where)
            .order_by(stats.c.last_at.desc().nulls_last(), _C.c.created_at.desc(), _C.c.pk.desc())
            .offset(offset)
            .limit(limit)
        )
        return [
            ConvoSummary(Conversation(*row[:_FIELDS]), row[_FIELDS], row[_FIELDS + 1], int(row[_FIELDS + 2]))
            for row in self.conn.execute(query)
        ]

    def convo_message_page(
        self, conversation_pk: int, *, before: int, offset: int, limit: int
    ) -> tuple[list[Message], int, int | None]:
        """A page of the live messages created before `before`, newest first; the total; the newest time."""
        where = and_(_M.c.conversation_pk == conversation_pk, _M.c.deleted.is_(False), _M.c.created_at < before)
        total, newest = self.conn.execute(select(func.count(), func.max(_M.c.created_at)).where(where)).one()
        if not total:
            return [], 0, None
        rows = self.conn.execute(
            select(*_MESSAGE).where(where).order_by(_M.c.created_at.desc(), _M.c.pk.desc()).offset(offset).limit(limit)
        )
        return records(Message, rows), int(total), newest

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


class ConvoWrites(ConvoReads):
    """Changing convos."""

    def set_convo_subject(self, pk: int, subject: str | None, at: int) -> None:
        """Change the subject of a convo."""
        self.conn.execute(update(_C).where(_C.c.pk == pk).values(subject=subject, updated_at=at))
