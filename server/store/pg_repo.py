"""PostgreSQL's versions of the few queries that differ from SQLite's, and the log's id counter.

Event ids on PostgreSQL are given out at the end of each write transaction from one counter row
(`event_seq`), whose lock is held until the commit: ids are in commit order with no gaps across every
process that writes, so a reader tailing `id > last` never skips a row that commits later (a plain
sequence gave 7 % of rows out of order under three writers).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Table,
    Text,
    cast,
    func,
    insert,
    select,
    text,
    update,
)

from server.model import Event, Variant
from server.store import schema as s
from server.store.pg_search import PgSearchReads
from server.store.repo import ReadTx, WriteTx, stored_variants

# PostgreSQL's own tables (SQLite needs none of them).
pg_metadata = MetaData()
event_seq = Table(
    "event_seq",
    pg_metadata,
    Column("one", s.Int, primary_key=True, autoincrement=False),
    Column("last", s.Int, nullable=False),
)
# Where every process hears of the others' commits (LISTEN/NOTIFY); the payload is the newest id.
CHANNEL = "huddle_events"
# Where ephemeral frames (typing) go to the other processes: never stored.
EPHEMERAL = "huddle_ephemeral"
_E = s.events


class PgReadTx(PgSearchReads, ReadTx):
    """A read transaction on PostgreSQL (its search: server.store.pg_search)."""

    @staticmethod
    def _variants_text() -> ColumnElement[Any]:
        # psycopg decodes a json column itself: the text is asked for as text.
        return cast(_E.c.variants, Text)

    @staticmethod
    def _body_start(body_bytes: int) -> ColumnElement[Any]:
        # Text cast to bytea reads backslashes as escapes; convert_to gives the UTF-8 as it is.
        return func.substr(func.convert_to(s.messages.c.body, "UTF8"), 1, body_bytes)


class PgWriteTx(WriteTx, PgReadTx):
    """A write transaction on PostgreSQL: events get their ids when the writer's batch commits."""

    def claim(self, job: str) -> bool:
        """Whether no other process runs this job now: a transaction-scoped advisory lock, taken without
        waiting (a process that does not get it leaves that round to the one that has it)."""
        key = zlib.crc32(f"huddle:{job}".encode())
        return bool(self.conn.execute(select(func.pg_try_advisory_xact_lock(key))).scalar_one())

    def __init__(self, conn: Connection, batch: list[Pending] | None = None) -> None:
        super().__init__(conn)
        # The events of the requests before this one in the writer's batch (not in the log yet), this
        # request's own, and the changes it made to the former (kept apart: it may still fail).
        self.batch: list[Pending] = batch if batch is not None else []
        self.pending: list[Pending] = []
        self.replaced: dict[int, Event] = {}

    def emit(self, at: int, variants: list[Variant], message_id: str | None = None) -> Event:
        """Queue one event; it gets its id at commit (`append_events`), a temporary negative one until then."""
        event = Event(id=-(len(self.batch) + len(self.pending) + 1), at=at, variants=tuple(variants))
        self.pending.append(Pending(event, message_id))
        self.events.append(event)
        return event

    def events_carrying(self, message_id: str) -> list[Event]:
        """The events that carry this message's body: in the log, and queued in this batch."""
        queued = [self.replaced.get(p.event.id, p.event) for p in self.batch if p.message_id == message_id]
        queued += [p.event for p in self.pending if p.message_id == message_id]
        return [*super().events_carrying(message_id), *queued]

    def replace_event(self, event: Event) -> None:
        """Store new variants for an event, in the log or queued in this batch."""
        if event.id >= 0:
            super().replace_event(event)
            return
        for p in self.pending:
            if p.event.id == event.id:
                p.event = event
                return
        self.replaced[event.id] = event

    def settle(self) -> None:
        """The request succeeded: its events join the batch, with its changes to earlier ones."""
        for p in self.batch:
            p.event = self.replaced.get(p.event.id, p.event)
        self.batch.extend(self.pending)


@dataclass(slots=True)
class Pending:
    """An event queued for the log at the end of the writer's batch, and the message whose body it carries."""

    event: Event
    message_id: str | None


# The batch's events in one statement: ids from the counter (its row stays locked until the commit), the
# rows, and the doorbell (delivered at the commit, in commit order, with the newest id).
_APPEND = text(
    f"""WITH seq AS (
        UPDATE event_seq SET last = last + :n WHERE one = 1 RETURNING last, pg_notify('{CHANNEL}', last::text)
    )
    INSERT INTO events (id, at, variants, message_id)
    SELECT seq.last - :n + v.ord, v.at, v.variants, v.message_id
    FROM seq, unnest(
        CAST(:ats AS BIGINT[]), CAST(:variants AS JSON[]), CAST(:message_ids AS VARCHAR[])
    ) WITH ORDINALITY AS v(at, variants, message_id, ord)
    RETURNING id"""
)


def append_events(conn: Connection, pending: list[Pending]) -> list[Event]:
    """Give the batch's events their ids, in order, write them to the log and ring the other processes'
    doorbell: one round trip. The events as numbered."""
    params = {
        "n": len(pending),
        "ats": [p.event.at for p in pending],
        "variants": [json.dumps(stored_variants(p.event.variants)) for p in pending],
        "message_ids": [p.message_id for p in pending],
    }
    first = min(int(row[0]) for row in conn.execute(_APPEND, params))
    return [replace(p.event, id=first + i) for i, p in enumerate(pending)]


def create_counter(conn: Connection) -> None:
    """The counter row, starting after the newest id the log has ever had."""
    pg_metadata.create_all(conn)
    if conn.execute(select(event_seq.c.last)).first() is None:
        newest = conn.execute(select(func.max(_E.c.id))).scalar_one_or_none() or 0
        pruned = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "pruned_through")).scalar_one_or_none()
        conn.execute(insert(event_seq).values(one=1, last=max(int(newest), int(pruned or 0))))


# A new log epoch starts its ids at the next multiple of this (2^32 ids an epoch; 2^21 epochs before
# ids pass 2^53, the integers JavaScript clients hold exactly).
EPOCH_SPAN = 1 << 32


def database_epoch(conn: Connection) -> str:
    """What says which database this is: the cluster's system identifier, its WAL timeline (a promoted
    replica or a point-in-time recovery starts a new one) and the database's oid (a restored dump is a
    new database)."""
    system = conn.execute(text("SELECT system_identifier FROM pg_control_system()")).scalar_one()
    wal = conn.execute(text("SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar_one()
    oid = conn.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar_one()
    return f"{system}:{int(wal[:8], 16)}:{oid}"


def check_epoch(conn: Connection) -> int | None:
    """Start a new log epoch when the database is not the one the log was written on (restored from a
    backup, or a replica promoted, which may lack the newest commits that clients have seen): ids jump to
    the next EPOCH_SPAN and every older resume point is pruned, so a client gets a clean 410 and boots
    again instead of resuming over a silent gap. The new first id's predecessor, or None when the log
    goes on. Call it under the migration lock."""
    m = s.meta
    now = database_epoch(conn)
    kept = conn.execute(select(m.c.value).where(m.c.key == "log_epoch")).scalar_one_or_none()
    if kept == now:
        return None
    if kept is None:
        conn.execute(insert(m).values(key="log_epoch", value=now))
        return None
    last = int(conn.execute(select(event_seq.c.last).with_for_update()).scalar_one())
    base = (last // EPOCH_SPAN + 1) * EPOCH_SPAN
    conn.execute(update(event_seq).values(last=base))
    for key, value in (("log_epoch", now), ("pruned_through", str(base))):
        if conn.execute(select(m.c.value).where(m.c.key == key)).first() is None:
            conn.execute(insert(m).values(key=key, value=value))
        else:
            conn.execute(update(m).where(m.c.key == key).values(value=value))
    return base
