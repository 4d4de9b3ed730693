"""SQLite in WAL mode: one writer thread with group commit, a small pool of readers."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from server.model import Event
from server.store import schema, search
from server.store.base import ReadTx, SchemaTooNew, WriteTx
from server.store.writer import GroupCommitStore, Job, Outcome

T = TypeVar("T")
__all__ = ["SchemaTooNew", "SqliteStore"]
log = logging.getLogger("huddle.store")


def _make_engine(path: Path, *, begin: str, synchronous: str, read_only: bool = False) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=NullPool,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin() below decide when transactions start (pysqlite's own
        # implicit BEGIN would break SAVEPOINT and the choice of IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        # A deleted message's body is overwritten in the file, not left in a free page (bench
        # figures in docs/API.md §12: no cost measurable on sends).
        cur.execute("PRAGMA secure_delete=ON")
        if read_only:  # the readers' connections refuse writes: only the writer's change anything
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(begin)

    return engine


def _ooo_ids_never_reused(conn: Connection) -> None:
    """Migration 2: rebuild ooo_entries with AUTOINCREMENT, so a deleted entry's id is never given
    out again (SQLite cannot add it to a table). The counter starts past every id the table or
    its audit trail has named, so ids deleted before the migration are not reused either."""
    created = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ooo_entries'")
    if "AUTOINCREMENT" in (created.scalar_one() or "").upper():
        return  # made by create_all just now (a new database), or rebuilt already
    columns = ", ".join(c.name for c in schema.ooo_entries.columns)
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_ooo_user")
    conn.exec_driver_sql("ALTER TABLE ooo_entries RENAME TO ooo_entries_v1")
    schema.ooo_entries.create(conn)
    conn.exec_driver_sql(f"INSERT INTO ooo_entries ({columns}) SELECT {columns} FROM ooo_entries_v1")
    conn.exec_driver_sql("DROP TABLE ooo_entries_v1")
    named = [int(m[1]) for (ctx,) in conn.exec_driver_sql("SELECT context FROM audits") if (m := _AUDIT_ID.match(ctx))]
    highest = max([conn.exec_driver_sql("SELECT coalesce(max(pk), 0) FROM ooo_entries").scalar_one(), *named])
    conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'ooo_entries'")
    conn.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('ooo_entries', ?)", (highest,))


def _chat_basics(conn: Connection) -> None:
    """Migration 3: messages.edited_at, events.message_id (the message whose body an event carries,
    filled in for the events already kept), deleted messages' bodies dropped, and the search index."""
    for table, column, kind in (("messages", "edited_at", "INTEGER"), ("events", "message_id", "VARCHAR(40)")):
        present = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_events_message ON events (message_id)")
    conn.exec_driver_sql(
        "UPDATE events SET message_id = json_extract(variants, '$[0][1].id') WHERE message_id IS NULL"
        " AND json_extract(variants, '$[0][1].type') = 'message'"
        " AND json_extract(variants, '$[0][1].event') IN ('sent', 'updated')"
    )
    conn.exec_driver_sql("UPDATE messages SET body = '' WHERE deleted = 1 AND body != ''")
    search.install(conn)


# An OOO audit's context starts with the entry's id: {'id':12} or {'id':12,'message':'...'}.
_AUDIT_ID = re.compile(r"\{'id':(\d+)")


# The database and the files SQLite keeps beside it: every DM and password hash is in them.
COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_files(path: Path) -> None:
    """Make the database private to its owner before SQLite opens it: a missing directory is created
    0700, a missing database file 0600 (SQLite gives its -wal and -shm files the database's mode),
    and the files of an existing one are tightened to 0600 (a database made 0644 by older versions)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in COMPANIONS:
        file = path.with_name(path.name + suffix)
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # someone else's file: say so, and go on as before
            log.warning("%s is readable by others and not ours to change: chmod 600 it", file)


class SqliteStore(GroupCommitStore):
    """The SQLite store. Writes go through one thread that commits queued requests together."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", readers: int = 4) -> None:
        self.path = Path(path)
        private_files(self.path)
        self._writer_engine = _make_engine(self.path, begin="BEGIN IMMEDIATE", synchronous=synchronous)
        self._reader_engine = _make_engine(self.path, begin="BEGIN", synchronous=synchronous, read_only=True)
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="huddle-read")
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._migrate()
        self._thread = threading.Thread(target=self._writer_loop, name="huddle-writer", daemon=True)
        self._thread.start()

    # ---- schema -------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._writer_engine.connect() as conn, conn.begin():
            version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
            if version > schema.SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path} has schema version {version}; this server knows {schema.SCHEMA_VERSION}"
                )
            # New tables need no version step: create_all only adds the ones that are missing.
            schema.metadata.create_all(conn)
            if version < 2:
                _ooo_ids_never_reused(conn)
            if version < 3:
                _chat_basics(conn)
            if version != schema.SCHEMA_VERSION:
                conn.exec_driver_sql(f"PRAGMA user_version={schema.SCHEMA_VERSION}")

    # ---- reads --------------------------------------------------------------------
    def _reader_conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._reader_engine.connect()
            self._local.conn = conn
        return conn

    def read_sync(self, fn: Callable[[ReadTx], T]) -> T:
        """Run fn in one read transaction in this thread."""
        conn = self._reader_conn()
        with conn.begin():
            return fn(ReadTx(conn))

    # ---- writes (queued by GroupCommitStore) --------------------------------------
    def _writer_loop(self) -> None:
        conn = self._writer_engine.connect()
        try:
            while (taken := self._next_batch()) is not None:
                batch, stop = taken
                try:
                    self._commit(conn, batch)
                except Exception:  # the writer must never die
                    log.exception("writer batch failed")
                    for j in batch:
                        if not j.future.done():
                            j.future.set_exception(RuntimeError("write failed"))
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: Connection, batch: list[Job]) -> None:
        outcomes: list[Outcome] = []
        events: list[Event] = []
        driver = conn.connection.driver_connection
        assert driver is not None
        try:
            with conn.begin():
                for job in batch:
                    # A request whose caller went away before its turn is skipped (nothing
                    # was acknowledged); once claimed here it can no longer be cancelled.
                    if not job.future.set_running_or_notify_cancel():
                        continue
                    tx = WriteTx(conn)
                    # A plain SQLite savepoint through the driver: SQLAlchemy's nested
                    # transaction objects cost more than the statements of a send.
                    driver.execute("SAVEPOINT job")
                    try:
                        result = job.fn(tx)
                    except Exception as exc:  # the request fails alone; the batch goes on
                        driver.execute("ROLLBACK TO job")
                        driver.execute("RELEASE job")
                        outcomes.append((job, None, exc))
                        continue
                    driver.execute("RELEASE job")
                    events.extend(tx.events)
                    outcomes.append((job, result, None))
        except Exception as exc:
            log.exception("commit failed")
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self._deliver(outcomes, events)

    def close(self) -> None:
        """Let queued writes finish, then stop the writer and the readers."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        self._readers.shutdown(wait=True)
        self._writer_engine.dispose()
        self._reader_engine.dispose()
