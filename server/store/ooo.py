"""Out-of-office entries and their audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, or_, select, update

from server.model import OooEntry
from server.store import schema as s
from server.store.rows import Queries, columns, record, records

_O = s.ooo_entries
_ENTRY = columns(_O, OooEntry)
_COVERING = (
    select(*_ENTRY)
    .where(
        _O.c.is_active.is_(True),
        or_(_O.c.start_date.is_(None), _O.c.start_date <= bindparam("at")),
        or_(_O.c.end_date.is_(None), _O.c.end_date >= bindparam("at")),
    )
    .order_by(_O.c.pk)
)
_COVERING_PKS = _COVERING.where(_O.c.user_pk.in_(bindparam("pks", expanding=True)))


class OooReads(Queries):
    """Reading OOO entries and audits."""

    def ooo_covering(self, user_pks: Sequence[int] | None, at: int) -> list[OooEntry]:
        """The entries flagged active whose dates contain `at` (of these users; everyone's when None), oldest first."""
        if user_pks is None:
            return records(OooEntry, self.conn.execute(_COVERING, {"at": at}))
        return records(OooEntry, self.conn.execute(_COVERING_PKS, {"at": at, "pks": list(user_pks)}))

    def get_ooo(self, pk: int) -> OooEntry | None:
        """The OOO entry with this pk."""
        return record(OooEntry, self.conn.execute(select(*_ENTRY).where(_O.c.pk == pk)).first())

    def ooo_overlapping(
        self, user_pks: Sequence[int], start: int | None, end: int | None, *, skip: int, limit: int
    ) -> tuple[list[OooEntry], int]:
        """Entries of these users overlapping [start, end] (open ends match all), oldest first, and the total."""
        where: list[ColumnElement[bool]] = [_O.c.user_pk.in_(list(user_pks))]
        if end is not None:
            where.append(or_(_O.c.start_date.is_(None), _O.c.start_date <= end))
        if start is not None:
            where.append(or_(_O.c.end_date.is_(None), _O.c.end_date >= start))
        total = int(self.conn.execute(select(func.count()).select_from(_O).where(*where)).scalar_one())
        rows = self.conn.execute(
            select(*_ENTRY).where(*where).order_by(_O.c.user_pk, _O.c.pk).offset(skip).limit(limit)
        )
        return records(OooEntry, rows), total

    def ooo_owners_with_boundary(self, after: int, upto: int) -> set[int]:
        """Owners of active entries that started or ended within (after, upto]."""
        rows = self.conn.execute(
            select(_O.c.user_pk).where(
                _O.c.is_active.is_(True),
                or_(
                    and_(_O.c.start_date > after, _O.c.start_date <= upto),
                    and_(_O.c.end_date >= after, _O.c.end_date < upto),
                ),
            )
        )
        return {r[0] for r in rows}

    def audits_of(self, user_pk: int, *, skip: int, limit: int) -> tuple[list[tuple[str, int, str]], int]:
        """(auditType, at, context) of a user's audits, oldest first, and the total."""
        a = s.audits
        total = int(self.conn.execute(select(func.count()).select_from(a).where(a.c.user_pk == user_pk)).scalar_one())
        rows = self.conn.execute(
            select(a.c.audit_type, a.c.at, a.c.context)
            .where(a.c.user_pk == user_pk)
            .order_by(a.c.pk)
            .offset(skip)
            .limit(limit)
        )
        return [(r[0], r[1], r[2]) for r in rows], total


class OooWrites(OooReads):
    """Changing OOO entries and audits."""

    def insert_ooo(self, **values: Any) -> OooEntry:
        """Insert an OOO entry."""
        entry = self.get_ooo(self._new(insert(_O).values(**values)))
        assert entry is not None
        return entry

    def update_ooo(self, pk: int, **values: Any) -> OooEntry:
        """Change an OOO entry."""
        self.conn.execute(update(_O).where(_O.c.pk == pk).values(**values))
        entry = self.get_ooo(pk)
        assert entry is not None
        return entry

    def delete_ooo(self, pk: int) -> None:
        """Remove an OOO entry."""
        self.conn.execute(delete(_O).where(_O.c.pk == pk))

    def insert_audit(self, user_pk: int, audit_type: str, at: int, context: str) -> None:
        """Record an audit entry."""
        self.conn.execute(insert(s.audits).values(user_pk=user_pk, audit_type=audit_type, at=at, context=context))
