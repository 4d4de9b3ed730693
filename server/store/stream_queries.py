"""Queries for ESN activity streams (mixed into Repo)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from server.model import Conversation, Message
from server.store import schema as s

_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Message))
_CONVERSATION_FIELDS = tuple(f.name for f in dataclasses.fields(Conversation))


def _record(row: Row[Any], names: tuple[str, ...]) -> dict[str, Any]:
    # Only the columns the record has: a column added later does not break this mixin.
    m = row._mapping
    values = {name: m[name] for name in names}
    values["deleted"] = bool(values["deleted"])
    return values


def _message(row: Row[Any]) -> Message:
    return Message(**_record(row, _MESSAGE_FIELDS))


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(**_record(row, _CONVERSATION_FIELDS))


class StreamQueries:
    """Table access for activity streams; `conn` is the transaction's connection."""

    conn: Connection

    def get_stream_conversation(self, stream_uuid: str) -> Conversation | None:
        """The conversation of an activity stream (None until something is posted to it)."""
        c = s.conversations
        row = self.conn.execute(select(c).where(c.c.kind == "stream", c.c.public_id == stream_uuid)).first()
        return _conversation(row) if row else None

    def insert_stream_conversation(
        self, stream_uuid: str, *, team_pk: int | None, workspace_pk: int | None, at: int
    ) -> Conversation:
        """Create the conversation of a team's or workspace's activity stream."""
        self.conn.execute(
            s.conversations.insert().values(
                kind="stream",
                public_id=stream_uuid,
                owner_team_pk=team_pk,
                owner_workspace_pk=workspace_pk,
                created_at=at,
                deleted=False,
            )
        )
        conv = self.get_stream_conversation(stream_uuid)
        assert conv is not None
        return conv

    def stream_conversations(self, stream_uuids: Iterable[str] | None) -> list[Conversation]:
        """Live stream conversations with these uuids (all of them when None), oldest first."""
        c = s.conversations
        q = select(c).where(c.c.kind == "stream", c.c.deleted.is_(False))
        if stream_uuids is not None:
            wanted = list(set(stream_uuids))
            if not wanted:
                return []
            q = q.where(c.c.public_id.in_(wanted))
        return [_conversation(r) for r in self.conn.execute(q.order_by(c.c.pk))]

    def public_ids_of(self, pks: Iterable[int]) -> dict[int, str]:
        """The public ids of messages by pk."""
        wanted = list(set(pks))
        if not wanted:
            return {}
        m = s.messages
        return {r[0]: r[1] for r in self.conn.execute(select(m.c.pk, m.c.public_id).where(m.c.pk.in_(wanted)))}

    def reply_ids(self, parent_pks: Sequence[int]) -> dict[int, list[str]]:
        """The public ids of the live replies to each message, oldest first."""
        if not parent_pks:
            return {}
        m = s.messages
        rows = self.conn.execute(
            select(m.c.parent_pk, m.c.public_id)
            .where(m.c.parent_pk.in_(list(parent_pks)), m.c.deleted.is_(False))
            .order_by(m.c.pk)
        )
        out: dict[int, list[str]] = {}
        for parent_pk, public_id in rows:
            out.setdefault(parent_pk, []).append(public_id)
        return out

    def stream_timeline(
        self, conversation_pk: int, *, before_pk: int | None, after_pk: int | None, limit: int
    ) -> list[Message]:
        """Live messages of a stream, newest first.

        With `after_pk`, the `limit` messages just newer than it (so paging forward leaves no
        gap); otherwise the `limit` messages just older than `before_pk` (or the newest).
        """
        m = s.messages
        q = select(m).where(m.c.conversation_pk == conversation_pk, m.c.deleted.is_(False))
        if before_pk is not None:
            q = q.where(m.c.pk < before_pk)
        if after_pk is not None:
            rows = self.conn.execute(q.where(m.c.pk > after_pk).order_by(m.c.pk).limit(limit))
            return [_message(r) for r in rows][::-1]
        rows = self.conn.execute(q.order_by(m.c.pk.desc()).limit(limit))
        return [_message(r) for r in rows]

    def count_stream_messages(self, conversation_pk: int) -> int:
        """How many live messages a stream holds."""
        m = s.messages
        q = select(func.count()).select_from(m).where(m.c.conversation_pk == conversation_pk, m.c.deleted.is_(False))
        return int(self.conn.execute(q).scalar_one())

    def set_message_attachments(self, pk: int, attachments: list[dict[str, Any]]) -> None:
        """Replace the metadata records of a message."""
        self.conn.execute(update(s.messages).where(s.messages.c.pk == pk).values(attachments=attachments))
