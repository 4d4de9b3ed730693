"""Rows to records, one way, and the base of every aggregate's queries.

A query selects a record's columns in the order of its fields (`columns(table, cls)`), and each row
becomes `cls(*row)`, whichever engine runs it and whether or not it went by the SQLite fast path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Result, Table
from sqlalchemy.sql import Executable

from server.store.sqlite_fast import FastPath

T = TypeVar("T")


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of a record, in order."""
    return tuple(f.name for f in fields(cls))


def columns(table: Table, cls: type) -> list[ColumnElement[Any]]:
    """The columns of `table` that make a `cls`, in the order of its fields (a table may hold more)."""
    return [table.c[name] for name in field_names(cls)]


def record(cls: type[T], row: Sequence[Any] | None) -> T | None:
    """A record from a row of its columns (None for no row)."""
    return None if row is None else cls(*row)


def records(cls: type[T], rows: Iterable[Sequence[Any]]) -> list[T]:
    """Records from rows of their columns (a result is fetched whole: one call, not one a row)."""
    if isinstance(rows, Result):
        rows = rows.all()
    return [cls(*row) for row in rows]


class Stale(Exception):
    """A conditional change found its row changed by a commit since it was read (another process's, on
    PostgreSQL): the writer runs the request again, and it then reads what is there now."""


class Queries:
    """Table access over the connection of one transaction (each aggregate's queries derive from it)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._fast = FastPath.of(conn)

    def _first(self, stmt: Executable, params: dict[str, Any]) -> Sequence[Any] | None:
        """The first row of a prebuilt select (the SQLite fast path where there is one), or None."""
        if self._fast is not None:
            return self._fast.first(stmt, params)
        return self.conn.execute(stmt, params).first()

    def _insert(self, stmt: Executable, params: dict[str, Any]) -> int:
        """Run a prebuilt insert; the new row's primary key."""
        if self._fast is not None:
            return self._fast.insert(stmt, params)
        return int(self.conn.execute(stmt, params).inserted_primary_key[0])  # type: ignore[index]

    def _new(self, stmt: Executable) -> int:
        """Run an insert built for this call; the new row's primary key."""
        return int(self.conn.execute(stmt).inserted_primary_key[0])  # type: ignore[index]
