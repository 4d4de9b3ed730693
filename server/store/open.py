"""Which store a --db value names: a PostgreSQL URL, or a SQLite file."""

from __future__ import annotations

from pathlib import Path

from server.store.base import Store
from server.store.postgres import PostgresStore, is_postgres_url
from server.store.sqlite import SqliteStore

__all__ = ["is_postgres_url", "open_store"]


def open_store(db: Path | str, *, synchronous: str = "FULL") -> Store:
    """The store of a --db value: `postgresql://USER@HOST:PORT/DB` is PostgreSQL, anything else a SQLite file."""
    if is_postgres_url(db):
        return PostgresStore(str(db))
    return SqliteStore(Path(db), synchronous=synchronous)
