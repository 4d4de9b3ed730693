"""Calls: signalling state only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from server.model import Call
from server.store import schema as s
from server.store.rows import Queries, Stale, columns, record, records

_K = s.calls
_CALL = columns(_K, Call)


class CallReads(Queries):
    """Reading calls."""

    def get_call(self, public_id: str) -> Call | None:
        """The call with this public id."""
        return record(Call, self.conn.execute(select(*_CALL).where(_K.c.public_id == public_id)).first())

    def get_call_pk(self, pk: int) -> Call:
        """The call with this pk."""
        return Call(*self.conn.execute(select(*_CALL).where(_K.c.pk == pk)).one())

    def calls_in(self, statuses: Iterable[str], *, started_before: int) -> list[Call]:
        """Calls in one of these statuses that started before a time, oldest first."""
        where = (_K.c.status.in_(list(statuses)), _K.c.started_at <= started_before)
        return records(Call, self.conn.execute(select(*_CALL).where(*where).order_by(_K.c.pk)))

    def call_between(self, a: int, b: int, statuses: Iterable[str]) -> Call | None:
        """A call between two users (either way) in one of these statuses."""
        pair = or_(and_(_K.c.caller_pk == a, _K.c.callee_pk == b), and_(_K.c.caller_pk == b, _K.c.callee_pk == a))
        return record(Call, self.conn.execute(select(*_CALL).where(_K.c.status.in_(list(statuses)), pair)).first())

    def calls_of(
        self, user_pk: int, *, limit: int, callee_only: bool = False, statuses: Iterable[str] | None = None
    ) -> tuple[list[Call], int]:
        """A user's calls (those made to them, with callee_only; in these statuses, if given), newest first,
        and how many match."""
        where = (
            [_K.c.callee_pk == user_pk] if callee_only else [or_(_K.c.callee_pk == user_pk, _K.c.caller_pk == user_pk)]
        )
        if statuses is not None:
            where.append(_K.c.status.in_(list(statuses)))
        total = int(self.conn.execute(select(func.count()).select_from(_K).where(*where)).scalar_one())
        rows = self.conn.execute(select(*_CALL).where(*where).order_by(_K.c.pk.desc()).limit(limit))
        return records(Call, rows), total


class CallWrites(CallReads):
    """Changing calls."""

    def insert_call(self, **values: Any) -> int:
        """Insert a call; returns its pk."""
        return self._new(insert(_K).values(**values))

    def update_call(self, pk: int, *, expect: str, **values: Any) -> Call:
        """Change a call that is still in status `expect` (as it was read); returns it. Stale when it is
        not (another process moved it first)."""
        done = self.conn.execute(update(_K).where(_K.c.pk == pk, _K.c.status == expect).values(**values))
        if done.rowcount != 1:
            raise Stale(f"call {pk} is no longer {expect}")
        return self.get_call_pk(pk)
