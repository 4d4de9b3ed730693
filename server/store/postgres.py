"""PostgreSQL, for several server processes on one database: per process one writer thread with group
commit, a small pool of readers on repeatable-read snapshots, and a LISTEN doorbell for other
processes' commits.

`--db postgresql://USER@HOST:PORT/DB` picks it (server.store.open); the repository is the same as on
SQLite but for the few queries in server.store.pg_repo and the event ids, given out at commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select as io_select
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

from server.model import Event
from server.store import pg_search, schema
from server.store.base import ReadTx, SchemaTooNew
from server.store.pg_repo import (
    CHANNEL,
    EPHEMERAL,
    Pending,
    PgReadTx,
    PgWriteTx,
    append_events,
    check_epoch,
    create_counter,
)
from server.store.rows import Stale
from server.store.writer import GroupCommitStore, Job, Outcome

T = TypeVar("T")
log = logging.getLogger("huddle.store")

# A batch that meets a deadlock or a serialization failure is run again, this many times at most.
BATCH_TRIES = 5
# A request that meets a unique violation (another process committed the same key, handle, name first)
# or a stale conditional change (a call answered elsewhere) is run again within its batch: its checks then
# see the other's commit and answer as they would have.
JOB_TRIES = 3
# SQLSTATEs worth running a batch again for: serialization_failure, deadlock_detected.
_RETRYABLE = {"40001", "40P01"}
# Serialises the schema's creation and migration between processes starting at once.
_MIGRATION_LOCK = 0x4875_6464_6C65  # "Huddle"


class NotBegun(Exception):
    """The batch's transaction could not begin: its connection is gone, and nothing of the batch ran."""


# A request, and what it returned or raised.


def is_postgres_url(db: object) -> bool:
    """Whether a --db value names a PostgreSQL database rather than a SQLite file."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def _urls(url: str) -> tuple[str, str]:
    """SQLAlchemy's URL (the psycopg 3 driver) and libpq's, of a --db value."""
    rest = url.split("://", 1)[1]
    return f"postgresql+psycopg://{rest}", f"postgresql://{rest}"


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None)


class PostgresStore(GroupCommitStore):
    """The PostgreSQL store: this process's writes go through one thread that commits queued requests
    together; other processes write the same database at the same time."""

    def __init__(self, url: str, *, readers: int = 4) -> None:
        self.url = url
        engine_url, self._libpq_url = _urls(url)
        self._writer_engine = create_engine(engine_url, poolclass=NullPool)
        self._reader_engine = create_engine(engine_url, poolclass=NullPool, isolation_level="REPEATABLE READ")

        @event.listens_for(self._reader_engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.read_only = True  # readers change nothing: only the writer's connection does

        self._migrate()
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="huddle-read")
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = os.pipe()  # close() wakes the listener through it
        # Ephemeral frames to other processes: sent in order by one thread on a connection of their own,
        # each prefixed by this process's origin (fixed length) so the listener knows its own.
        self._origin = uuid.uuid4().hex
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huddle-notify")
        self._notify_conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._writer_loop, name="huddle-writer", daemon=True)
        self._thread.start()
        self._listener = threading.Thread(target=self._listen, name="huddle-listen", daemon=True)
        self._listener.start()

    @property
    def engine(self) -> Engine:
        """The writer's engine (for tools and tests that look at the database as it is)."""
        return self._writer_engine

    # ---- schema -------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._writer_engine.connect() as conn, conn.begin():
            conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            m = schema.meta
            found = None
            if conn.execute(select(func.to_regclass(m.name))).scalar_one() is not None:
                found = conn.execute(select(m.c.value).where(m.c.key == "schema_version")).scalar_one_or_none()
            version = int(found or 0)
            if version > schema.SCHEMA_VERSION:  # refused before anything is touched
                known = schema.SCHEMA_VERSION
                raise SchemaTooNew(f"the database has schema version {version}; this server knows {known}")
            schema.metadata.create_all(conn)
            create_counter(conn)
            pg_search.install(conn)
            self._new_epoch(conn)
            # PostgreSQL databases start at version 3 (create_all makes its tables and columns). Migration 2
            # (ooo ids never reused) is SQLite's: a PostgreSQL sequence never gives an id twice.
            if found is None:
                conn.execute(insert(m).values(key="schema_version", value=str(schema.SCHEMA_VERSION)))
            elif version != schema.SCHEMA_VERSION:
                conn.execute(update(m).where(m.c.key == "schema_version").values(value=str(schema.SCHEMA_VERSION)))

    def _check_epoch(self) -> None:
        """On a (re)connection of the writer: is this still the database the log was written on?"""
        with self._writer_engine.connect() as conn, conn.begin():
            conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            self._new_epoch(conn)

    @staticmethod
    def _new_epoch(conn: Connection) -> None:
        base = check_epoch(conn)
        if base is not None:
            log.warning(
                "the database is not the one the event log was written on (restored or failed over): "
                "a new log epoch starts after id %d; older resume points get 410",
                base,
            )

    # ---- reads --------------------------------------------------------------------
    def _reader_conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._reader_engine.connect()
            self._local.conn = conn
        return conn

    def read_sync(self, fn: Callable[[ReadTx], T]) -> T:
        """Run fn in one read-only, repeatable-read transaction (one snapshot) in this thread."""
        for attempt in (1, 2):
            conn = self._reader_conn()
            try:
                with conn.begin():
                    return fn(PgReadTx(conn))
            except DBAPIError as exc:
                if not (exc.connection_invalidated or conn.closed):
                    raise
                # The connection was lost (the database restarted, or dropped it): a read can run again.
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # ---- writes (queued by GroupCommitStore) --------------------------------------
    def _writer_loop(self) -> None:
        conn: Connection | None = None
        while (taken := self._next_batch()) is not None:
            batch, stop = taken
            try:
                for attempt in (1, 2):
                    if conn is None or conn.closed or conn.invalidated:
                        self._check_epoch()  # after a failover, before any id is given out
                        # The writer sends its transactions itself (_run): autocommit, as the driver knows it.
                        conn = self._writer_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                    try:
                        self._commit(conn, batch)
                        break
                    except NotBegun:
                        # The connection was lost while idle (nothing of the batch ran): once more on a new one.
                        conn.close()
                        conn = None
                        if attempt == 2:
                            raise
            except Exception as exc:  # the writer must never die
                log.exception("writer batch failed")
                for j in batch:
                    if not j.future.done() and (j.future.running() or j.future.set_running_or_notify_cancel()):
                        j.future.set_exception(exc)
                if conn is not None:
                    conn.close()
                conn = None
            if stop:
                break
        if conn is not None:
            conn.close()

    def _commit(self, conn: Connection, batch: list[Job]) -> None:
        outcomes: list[Outcome] = []
        events: list[Event] = []
        for attempt in range(1, BATCH_TRIES + 1):
            try:
                outcomes, events = self._run(conn, batch)
                break
            except DBAPIError as exc:
                if _sqlstate(exc) not in _RETRYABLE or attempt == BATCH_TRIES:
                    raise
                log.warning("write batch of %d met %s; running it again (%d)", len(batch), _sqlstate(exc), attempt)
        self._deliver(outcomes, events)

    def _run(self, conn: Connection, batch: list[Job]) -> tuple[list[Outcome], list[Event]]:
        # The transaction and the savepoints are sent by hand, each joined with its neighbour in one round
        # trip (the writer's time goes to waiting on round trips): BEGIN with the first SAVEPOINT, each
        # RELEASE with the next SAVEPOINT; the last request's needs no RELEASE (the COMMIT keeps it).
        driver = conn.connection.driver_connection
        assert driver is not None
        outcomes: list[Outcome] = []
        events: list[Event] = []
        queued: list[Pending] = []  # the batch's events, for the log at its end
        try:
            driver.execute("BEGIN; SAVEPOINT job")
        except psycopg.OperationalError as exc:
            raise NotBegun("the writer's connection is gone") from exc
        fresh = True  # the savepoint holds nothing yet
        try:
            for job in batch:
                # A request whose caller went away before its turn is skipped (nothing was acknowledged);
                # once claimed it can no longer be cancelled (a batch run again finds it running).
                if not job.future.running() and not job.future.set_running_or_notify_cancel():
                    continue
                for attempt in range(1, JOB_TRIES + 1):
                    if not fresh:
                        driver.execute("RELEASE SAVEPOINT job; SAVEPOINT job")
                    tx = PgWriteTx(conn, queued)
                    fresh = False
                    try:
                        result = job.fn(tx)
                    except (IntegrityError, Stale) as exc:
                        driver.execute("ROLLBACK TO SAVEPOINT job")
                        fresh = True
                        if attempt < JOB_TRIES:
                            continue
                        outcomes.append((job, None, exc))
                        break
                    except DBAPIError as exc:
                        if _sqlstate(exc) in _RETRYABLE:
                            raise  # the whole batch again
                        driver.execute("ROLLBACK TO SAVEPOINT job")
                        fresh = True
                        outcomes.append((job, None, exc))
                        break
                    except Exception as exc:  # the request fails alone; the batch goes on
                        driver.execute("ROLLBACK TO SAVEPOINT job")
                        fresh = True
                        outcomes.append((job, None, exc))
                        break
                    tx.settle()
                    outcomes.append((job, result, None))
                    break
            if queued:
                events = append_events(conn, queued)
            driver.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                driver.execute("ROLLBACK")
            raise
        finally:
            # SQLAlchemy's own bookkeeping (the connection is in autocommit: nothing is sent); on a broken
            # connection it must not hide the error that broke it.
            with contextlib.suppress(Exception):
                conn.rollback()
        return outcomes, events

    # ---- the doorbell ---------------------------------------------------------------
    def _listen(self) -> None:
        """Hear other processes' commits (NOTIFY at their commit); reconnect when the link breaks."""
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._libpq_url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    conn.execute(f"LISTEN {EPHEMERAL}")
                    self._ring(0)  # commits made while we were not listening: the hub reads the log
                    while not self._stopping.is_set():
                        # The socket or close()'s wake-up, whichever comes first; then every note waiting.
                        ready, _, _ = io_select.select([conn.fileno(), self._wake_r], [], [], 30.0)
                        if self._wake_r in ready:
                            break
                        newest = None
                        for note in conn.notifies(timeout=0):
                            if note.channel == CHANNEL:
                                newest = max(newest or 0, int(note.payload or 0))
                            else:
                                self._heard(note.payload)
                        if newest is not None:
                            self._ring(newest)
            except Exception:
                if not self._stopping.is_set():
                    log.warning("the event doorbell lost its connection; listening again in 1 s")
                    self._stopping.wait(1.0)

    def broadcast(self, payload: str) -> None:
        """NOTIFY the other processes of an ephemeral frame, off the caller's thread; dropped when over
        PostgreSQL's 8,000-byte payload or when the database does not answer (typing is best effort)."""
        note = self._origin + payload
        if len(note.encode()) >= 8000:
            log.warning("an ephemeral frame of %d bytes is too big to pass to other processes", len(note))
            return
        self._sender.submit(self._notify, note)

    def _notify(self, note: str) -> None:
        try:
            if self._notify_conn is None or self._notify_conn.closed:
                self._notify_conn = psycopg.connect(self._libpq_url, autocommit=True)
            self._notify_conn.execute("SELECT pg_notify(%s, %s)", (EPHEMERAL, note))
        except Exception:
            log.warning("could not pass an ephemeral frame to other processes", exc_info=True)
            if self._notify_conn is not None:
                self._notify_conn.close()
            self._notify_conn = None

    def _heard(self, note: str) -> None:
        # Our own broadcast comes back too: those were delivered here already.
        sink = self.on_broadcast
        if sink is not None and not note.startswith(self._origin):
            try:
                sink(note[len(self._origin) :])
            except Exception:
                log.exception("ephemeral frame from another process failed")

    def _ring(self, last: int) -> None:
        ring = self.on_foreign
        if ring is not None:
            try:
                ring(last)
            except Exception:
                log.exception("event doorbell failed")

    def close(self) -> None:
        """Let queued writes finish, then stop the writer, the listener and the readers."""
        self._stopping.set()
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        os.write(self._wake_w, b"x")
        self._listener.join(timeout=5)
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._readers.shutdown(wait=True)
        self._sender.shutdown(wait=True)
        if self._notify_conn is not None:
            self._notify_conn.close()
        self._writer_engine.dispose()
        self._reader_engine.dispose()
