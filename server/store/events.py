"""The event log (each change's event, committed with it) and the store's own notes (meta)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, Text, delete, func, insert, select, type_coerce, update

from server.model import Event, Variant
from server.store import schema as s
from server.store.rows import Queries

_E = s.events
_INSERT_EVENT = insert(_E)


def event_from_row(event_id: int, at: int, variants: Any) -> Event:
    """An Event from its stored columns."""
    if isinstance(variants, str):
        variants = json.loads(variants)
    return Event(
        id=event_id,
        at=at,
        variants=tuple(Variant(None if audience is None else frozenset(audience), data) for audience, data in variants),
    )


class EventReads(Queries):
    """Reading the event log."""

    @staticmethod
    def _variants_text() -> ColumnElement[Any]:
        """The variants column as its stored text (SQLite keeps JSON as text: no conversion)."""
        return type_coerce(_E.c.variants, Text)

    def events_after(
        self, after: int, upto: int | None = None, limit: int = 1000, max_chars: int | None = None
    ) -> list[Event]:
        """Events with after < id <= upto, oldest first: at most `limit`, and (with max_chars) no more
        after the stored text of those read passes max_chars (always at least one)."""
        # The stored text as it is, measured before it is decoded: rows past the budget are never read.
        q = select(_E.c.id, _E.c.at, self._variants_text()).where(_E.c.id > after)
        if upto is not None:
            q = q.where(_E.c.id <= upto)
        out: list[Event] = []
        chars = 0
        rows = self.conn.execute(q.order_by(_E.c.id).limit(limit))
        try:
            for event_id, at, text in rows:
                out.append(event_from_row(event_id, at, text))
                chars += len(text)
                if max_chars is not None and chars >= max_chars:
                    break
        finally:
            rows.close()
        return out

    def events_carrying(self, message_id: str) -> list[Event]:
        """The stored events that carry this message's body."""
        rows = self.conn.execute(
            select(_E.c.id, _E.c.at, self._variants_text()).where(_E.c.message_id == message_id)
        ).all()
        return [event_from_row(event_id, at, text) for event_id, at, text in rows]

    def max_event_id(self) -> int:
        """The newest event id (0 when none was ever written); past every kept event when the log was
        pruned beyond them (a new log epoch on PostgreSQL), so that the new epoch's start is a resume point."""
        value = self.conn.execute(select(func.max(_E.c.id))).scalar_one_or_none()
        return max(int(value or 0), self.pruned_through())

    def pruned_through(self) -> int:
        """The newest event id that is no longer retained."""
        return int(self.get_meta("pruned_through") or 0)

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table."""
        return self.conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).scalar_one_or_none()


class EventWrites(EventReads):
    """Appending to and pruning the event log."""

    def insert_event(self, at: int, variants: list[list[Any]], message_id: str | None = None) -> int:
        """Append an event to the log (`message_id`: the message whose body it carries); returns its id."""
        return self._insert(_INSERT_EVENT, {"at": at, "variants": variants, "message_id": message_id})

    def replace_event(self, event: Event) -> None:
        """Store new variants for an event (same id, same time)."""
        stored = [[None if v.audience is None else sorted(v.audience), v.data] for v in event.variants]
        self.conn.execute(update(_E).where(_E.c.id == event.id).values(variants=stored))

    def prune_events(self, before_at: int) -> None:
        """Drop events older than before_at, remembering the newest dropped id."""
        newest_old = self.conn.execute(select(func.max(_E.c.id)).where(_E.c.at < before_at)).scalar_one_or_none()
        if newest_old is None:
            return
        self.conn.execute(delete(_E).where(_E.c.id <= newest_old))
        self.set_meta("pruned_through", str(newest_old))

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table."""
        if self.get_meta(key) is None:
            self.conn.execute(insert(s.meta).values(key=key, value=value))
        else:
            self.conn.execute(update(s.meta).where(s.meta.c.key == key).values(value=value))
