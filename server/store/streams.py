"""Activity streams: the conversation of each team's and workspace's stream, its timeline, replies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, insert, select

from server.model import Conversation, Message
from server.store import schema as s
from server.store.rows import Queries, columns, record, records

_C, _M = s.conversations, s.messages
_CONVERSATION = columns(_C, Conversation)
_MESSAGE = columns(_M, Message)


class StreamReads(Queries):
    """Reading activity streams."""

    def get_stream_conversation(self, stream_uuid: str) -> Conversation | None:
        """The conversation of an activity stream (None until something is posted to it)."""
        row = self.conn.execute(select(*_CONVERSATION).where(_C.c.kind == "stream", _C.c.public_id == stream_uuid))
        return record(Conversation, row.first())

    def stream_conversations(self, stream_uuids: Iterable[str] | None) -> list[Conversation]:
        """Live stream conversations with these uuids (all of them when None), oldest first."""
        q = select(*_CONVERSATION).where(_C.c.kind == "stream", _C.c.deleted.is_(False))
        if stream_uuids is not None:
            wanted = list(set(stream_uuids))
            if not wanted:
                return []
            q = q.where(_C.c.public_id.in_(wanted))
        return records(Conversation, self.conn.execute(q.order_by(_C.c.pk)))

    def reply_ids(self, parent_pks: Sequence[int]) -> dict[int, list[str]]:
        """The public ids of the live replies to each message, oldest first."""
        if not parent_pks:
            return {}
        rows = self.conn.execute(
            select(_M.c.parent_pk, _M.c.public_id)
            .where(_M.c.parent_pk.in_(list(parent_pks)), _M.c.deleted.is_(False))
            .order_by(_M.c.pk)
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
        q = select(*_MESSAGE).where(_M.c.conversation_pk == conversation_pk, _M.c.deleted.is_(False))
        if before_pk is not None:
            q = q.where(_M.c.pk < before_pk)
        if after_pk is not None:
            rows = self.conn.execute(q.where(_M.c.pk > after_pk).order_by(_M.c.pk).limit(limit))
            return records(Message, rows)[::-1]
        return records(Message, self.conn.execute(q.order_by(_M.c.pk.desc()).limit(limit)))

    def count_stream_messages(self, conversation_pk: int) -> int:
        """How many live messages a stream holds."""
        q = select(func.count()).select_from(_M).where(_M.c.conversation_pk == conversation_pk, _M.c.deleted.is_(False))
        return int(self.conn.execute(q).scalar_one())


class StreamWrites(StreamReads):
    """Changing activity streams."""

    def insert_stream_conversation(
        self, stream_uuid: str, *, team_pk: int | None, workspace_pk: int | None, at: int
    ) -> Conversation:
        """Create the conversation of a team's or workspace's activity stream."""
        self.conn.execute(
            insert(_C).values(
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
