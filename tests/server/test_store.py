"""The store: one writer, savepoints per request, events with their change, schema versions."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import OperationalError

from server.events import Hub, ResumePointGone
from server.model import Event, Variant
from server.store import schema
from server.store.base import Store, WriteTx
from server.store.pg_repo import EPOCH_SPAN
from server.store.postgres import PostgresStore
from server.store.sqlite import SchemaTooNew, SqliteStore


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Opens a store on one fresh database of each engine (again on the same database when called again)."""
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "h.db")
    url = request.getfixturevalue("pg_url")
    return lambda: PostgresStore(url)


def add_user(handle: str, *, fail: bool = False) -> object:
    def run(tx: WriteTx) -> int:
        pk = tx.insert_user(
            handle=handle, display_name=handle, role="member", auto_status="away", hide_last_seen=False, created_at=1
        )
        tx.emit(1, [Variant(None, {"type": "user", "event": "created", "id": handle})])
        if fail:
            raise ValueError("refused")
        return pk

    return run


def test_a_failing_request_rolls_back_alone_with_its_event(opener: Callable[[], Store]) -> None:
    store = opener()
    committed: list[Event] = []
    store.on_commit = committed.extend
    gate = threading.Event()
    # Hold the writer so the next three requests are committed as one batch.
    blocker = threading.Thread(target=lambda: store.write_sync(lambda tx: gate.wait(5)))
    blocker.start()
    results: dict[str, object] = {}

    def submit(name: str, fail: bool) -> None:
        try:
            results[name] = store.write_sync(add_user(name, fail=fail))  # type: ignore[arg-type]
        except ValueError as exc:
            results[name] = exc

    threads = [threading.Thread(target=submit, args=(n, n == "b")) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    gate.set()
    for t in [blocker, *threads]:
        t.join(5)
    assert isinstance(results["b"], ValueError)
    assert sorted(u.handle for u in store.read_sync(lambda r: r.list_users())) == ["a", "c"]
    stored = store.read_sync(lambda r: r.events_after(0))
    assert sorted(e.variants[0].data["id"] for e in stored) == ["a", "c"]
    assert [e.id for e in committed] == [e.id for e in stored]
    store.close()


async def test_a_cancelled_write_does_not_kill_the_writer(opener: Callable[[], Store]) -> None:
    store = opener()
    gate = threading.Event()
    slow = asyncio.create_task(store.write(lambda tx: gate.wait(5)))
    queued = asyncio.create_task(store.write(add_user("never")))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    slow.cancel()
    queued.cancel()
    # The cancellations reach the writer's futures through the loop: let them arrive before the
    # gate opens (set at once, the writer could reach the queued request first).
    await asyncio.sleep(0.05)
    gate.set()
    # The writer is alive and serves the next request.
    assert await asyncio.wait_for(store.write(add_user("after")), 5)  # type: ignore[arg-type]
    handles = [u.handle for u in store.read_sync(lambda r: r.list_users())]
    assert handles == ["after"]  # the request cancelled before its turn never ran
    store.close()


def test_schema_is_versioned(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    SqliteStore(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew):
        SqliteStore(db)


def test_a_postgresql_schema_is_versioned_and_created_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(2)]  # a second process on a made database
    for store in stores:
        store.close()
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        version = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
        assert version == str(schema.SCHEMA_VERSION)
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="99"))
    engine.dispose()
    with pytest.raises(SchemaTooNew):
        PostgresStore(pg_url)


def test_event_ids_are_never_reused_after_pruning(opener: Callable[[], Store]) -> None:
    store = opener()
    for _ in range(3):
        store.write_sync(lambda tx: tx.emit(10, [Variant(None, {"n": 1})]))
    ids = [e.id for e in store.read_sync(lambda r: r.events_after(0))]
    assert len(ids) == 3
    store.write_sync(lambda tx: tx.prune_events(before_at=11))
    assert store.read_sync(lambda r: (r.pruned_through(), r.max_event_id())) == (ids[-1], ids[-1])
    store.write_sync(lambda tx: tx.emit(20, [Variant(None, {"n": 2})]))
    assert [e.id for e in store.read_sync(lambda r: r.events_after(0))] == [ids[-1] + 1]
    store.close()
    store = opener()  # and after a restart
    store.write_sync(lambda tx: tx.emit(30, [Variant(None, {"n": 3})]))
    assert [e.id for e in store.read_sync(lambda r: r.events_after(0))] == [ids[-1] + 1, ids[-1] + 2]
    store.close()


def test_dm_parties_finds_each_part_or_none(opener: Callable[[], Store]) -> None:
    """The one-statement lookup of a send: sender, recipient and their DM, whichever pk is lower."""
    store = opener()
    try:
        amy, bob, cat = (store.write_sync(add_user(h)) for h in ("amy", "bob", "cat"))
        assert store.read_sync(lambda r: r.dm_parties(bob, "amy")) == (
            store.read_sync(lambda r: r.get_user(bob)),
            store.read_sync(lambda r: r.get_user(amy)),
            None,
        )
        dm_pk = store.write_sync(
            lambda tx: tx.insert_conversation(kind="dm", user_a=amy, user_b=bob, created_at=1, deleted=False)
        )
        for sender, handle in ((amy, "bob"), (bob, "amy")):
            found_sender, recipient, dm = store.read_sync(lambda r, s=sender, h=handle: r.dm_parties(s, h))
            assert (found_sender.pk, recipient.handle) == (sender, handle)  # type: ignore[union-attr]
            assert (dm.pk, dm.kind) == (dm_pk, "dm")  # type: ignore[union-attr]
        # Another pair has no DM yet; an unknown handle and a missing sender are None.
        assert store.read_sync(lambda r: r.dm_parties(cat, "amy"))[2] is None
        assert store.read_sync(lambda r: r.dm_parties(amy, "nobody"))[1:] == (None, None)
        assert store.read_sync(lambda r: r.dm_parties(999, "amy")) == (None, None, None)
    finally:
        store.close()


def test_bulk_reads_give_the_records_single_reads_give(opener: Callable[[], Store]) -> None:
    """list_users, users_by_pk, teams_of and workspaces_of read many rows at once (bench W5):
    each record must equal the one read alone, flags as bools, groups per member by name."""
    store = opener()

    def build(tx: WriteTx) -> dict[str, int]:
        pks = {h: add_user(h)(tx) for h in ("zoe", "amy", "bob")}  # type: ignore[operator]
        tx.update_user(pks["bob"], hide_last_seen=True, status_override="dnd", status_updated_by=pks["amy"])
        team = {n: tx.insert_team(name=n, created_at=2, stream_uuid=f"t-{n}") for n in ("ops", "dev")}
        tx.update_team(team["ops"], deleted=True)
        space = tx.insert_workspace(name="hq", created_at=3, stream_uuid="w-hq")
        for handle, names in (("zoe", ("ops", "dev")), ("amy", ("dev",))):
            for name in names:
                tx.add_team_member(team[name], pks[handle])
        tx.add_workspace_member(space, pks["bob"])
        return pks

    pks = store.write_sync(build)
    users = store.read_sync(lambda r: r.list_users())
    assert [u.handle for u in users] == ["amy", "bob", "zoe"]
    assert users == [store.read_sync(lambda r, pk=u.pk: r.get_user(pk)) for u in users]
    assert [type(u.hide_last_seen) for u in users] == [bool, bool, bool]
    assert [u.hide_last_seen for u in users] == [False, True, False]
    assert store.read_sync(lambda r: r.users_by_pk([pks["zoe"], pks["bob"]])) == {u.pk: u for u in users[1:]}
    teams = store.read_sync(lambda r: r.teams_of())
    assert {pk: [(t.name, t.deleted) for t in ts] for pk, ts in teams.items()} == {
        pks["zoe"]: [("dev", False), ("ops", True)],
        pks["amy"]: [("dev", False)],
    }
    assert teams[pks["zoe"]][0] == store.read_sync(lambda r: r.get_team_by_name("dev"))
    assert store.read_sync(lambda r: r.teams_of([pks["amy"], pks["bob"]])) == {pks["amy"]: teams[pks["amy"]]}
    spaces = store.read_sync(lambda r: r.workspaces_of())
    assert spaces == {pks["bob"]: [store.read_sync(lambda r: r.get_workspace_by_name("hq"))]}
    store.close()


# What version 1 made of ooo_entries: no AUTOINCREMENT, so a deleted last id came back.
V1_OOO = """
DROP TABLE ooo_entries;
CREATE TABLE ooo_entries (
    pk INTEGER NOT NULL, user_pk INTEGER NOT NULL, is_active BOOLEAN NOT NULL, start_date INTEGER,
    end_date INTEGER, message TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (pk)
);
CREATE INDEX ix_ooo_user ON ooo_entries (user_pk);
DELETE FROM sqlite_sequence WHERE name = 'ooo_entries';
INSERT INTO ooo_entries VALUES (1, 7, 1, NULL, NULL, 'kept', 100), (2, 7, 0, 10, 20, NULL, 200);
INSERT INTO audits (user_pk, audit_type, at, context) VALUES
    (7, 'create', 1, '{''id'':1}'), (7, 'create', 2, '{''id'':2}'), (7, 'create', 3, '{''id'':3}'),
    (7, 'update', 4, '{''id'':3,''message'':''x''}'), (7, 'delete', 5, '{''id'':3}');
PRAGMA user_version = 1;
"""


def test_version_1_databases_stop_reusing_ooo_ids(tmp_path: Path) -> None:
    """Migration 2 rebuilds ooo_entries with AUTOINCREMENT, keeping its rows and index; the next id is
    past every id the table or its audit trail named (3 was deleted before the migration)."""
    db = tmp_path / "h.db"
    SqliteStore(db).close()
    conn = sqlite3.connect(db)
    conn.executescript(V1_OOO)
    conn.close()
    store = SqliteStore(db)
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 3
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'ooo_entries'").fetchone()[0]
    assert "AUTOINCREMENT" in sql
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'ix_ooo_user'").fetchone() == ("ix_ooo_user",)
    rows = conn.execute("SELECT * FROM ooo_entries ORDER BY pk").fetchall()
    assert rows == [(1, 7, 1, None, None, "kept", 100), (2, 7, 0, 10, 20, None, 200)]
    conn.execute("INSERT INTO ooo_entries (user_pk, is_active, created_at) VALUES (7, 1, 300)")
    conn.execute("DELETE FROM ooo_entries WHERE pk = 4")
    conn.execute("INSERT INTO ooo_entries (user_pk, is_active, created_at) VALUES (7, 1, 400)")
    assert [r[0] for r in conn.execute("SELECT pk FROM ooo_entries ORDER BY pk")] == [1, 2, 5]
    conn.commit()
    conn.close()
    SqliteStore(db).close()  # opening again changes nothing
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("SELECT pk FROM ooo_entries ORDER BY pk")] == [1, 2, 5]
    conn.close()


# What version 2 had of messages and events: no edited_at, no message_id, no search index; a deleted
# message kept its body, and the event that sent it still carries it.
V2_CHAT = """
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_delete;
DROP TABLE messages_fts;
DROP TABLE reactions;
DROP INDEX ix_events_message;
ALTER TABLE events DROP COLUMN message_id;
ALTER TABLE messages DROP COLUMN edited_at;
INSERT INTO conversations (pk, kind, created_at, deleted) VALUES (1, 'channel', 1, 0);
INSERT INTO messages (pk, public_id, conversation_pk, sender_pk, body, created_at, deleted) VALUES
    (1, 'msg_0000000000000001', 1, 7, 'the quarterly rollout', 1, 0),
    (2, 'msg_0000000000000002', 1, 7, 'a secret rollout', 2, 1);
INSERT INTO events (at, variants) VALUES
    (1, '[[null, {"type": "message", "event": "sent", "id": "msg_0000000000000002", "body": "a secret"}]]');
PRAGMA user_version = 2;
"""


def test_version_2_databases_gain_edits_and_a_search_index(tmp_path: Path) -> None:
    """Migration 3 adds messages.edited_at and events.message_id (filled in for the events kept), drops
    the bodies of messages deleted before, and indexes the live messages for search."""
    db = tmp_path / "h.db"
    SqliteStore(db).close()
    conn = sqlite3.connect(db)
    conn.executescript(V2_CHAT)
    conn.close()
    store = SqliteStore(db)
    hits = store.read_sync(lambda r: r.search_messages("rollout", [1], None, 10))
    assert [(m.public_id, m.edited_at, spans) for m, spans in hits.messages] == [
        ("msg_0000000000000001", None, [(14, 21)])
    ]
    assert hits.total == 1
    carrying = store.read_sync(lambda r: r.events_carrying("msg_0000000000000002"))
    assert len(carrying) == 1
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert conn.execute("SELECT body FROM messages ORDER BY pk").fetchall() == [("the quarterly rollout",), ("",)]
    conn.close()


async def test_a_database_not_the_one_the_log_was_written_on_starts_a_new_epoch(pg_url: str) -> None:
    """A restored or failed-over database (here: its recorded epoch differs) gives ids past a jump, and
    resume points from before it are gone (410), never a silent gap."""
    store = PostgresStore(pg_url)
    for n in range(3):
        store.write_sync(lambda tx, n=n: tx.emit(10, [Variant(None, {"n": n})]))
    store.close()
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(update(schema.meta).where(schema.meta.c.key == "log_epoch").values(value="1:1:1"))
    engine.dispose()
    store = PostgresStore(pg_url)
    try:
        store.write_sync(lambda tx: tx.emit(20, [Variant(None, {"n": 3})]))
        assert [e.id for e in store.read_sync(lambda r: r.events_after(0))] == [1, 2, 3, EPOCH_SPAN + 1]
        assert store.read_sync(lambda r: r.pruned_through()) == EPOCH_SPAN
        hub = Hub(store)
        with pytest.raises(ResumePointGone):
            await hub.subscribe(1, 3)
        assert (await hub.subscribe(1, EPOCH_SPAN)).last_id == EPOCH_SPAN
    finally:
        store.close()
    store = PostgresStore(pg_url)  # the same database again: the log goes on
    store.write_sync(lambda tx: tx.emit(30, [Variant(None, {"n": 4})]))
    assert store.read_sync(lambda r: r.max_event_id()) == EPOCH_SPAN + 2
    store.close()


def test_one_process_at_a_time_holds_a_claim(pg_url: str) -> None:
    """Two processes' stores on one database: while one holds the tick's claim, the other's is refused."""
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    held, gate = threading.Event(), threading.Event()

    def hold(tx: WriteTx) -> bool:
        mine = tx.claim("tick")
        held.set()
        gate.wait(5)
        return mine

    try:
        holder = ThreadPoolExecutor(1).submit(first.write_sync, hold)
        assert held.wait(5)
        assert second.write_sync(lambda tx: tx.claim("tick")) is False
        assert second.write_sync(lambda tx: tx.claim("other")) is True
        gate.set()
        assert holder.result(5) is True
        assert second.write_sync(lambda tx: tx.claim("tick")) is True  # free again after the commit
    finally:
        gate.set()
        first.close()
        second.close()


def test_a_change_another_process_made_first_runs_the_request_again(pg_url: str) -> None:
    """A call answered by one process while another ends it: the second's conditional change finds the call
    no longer ringing, and its request runs again on what is there now (one outcome, not two)."""
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    held, gate = threading.Event(), threading.Event()
    pk = first.write_sync(
        lambda tx: tx.insert_call(
            public_id="call_1", caller_pk=1, callee_pk=2, type="audio", status="ringing", started_at=1
        )
    )

    def answer(tx: WriteTx) -> str:
        call = tx.update_call(pk, expect="ringing", status="answered", answered_at=2)
        held.set()
        gate.wait(5)
        return call.status

    seen: list[str] = []

    def expire(tx: WriteTx) -> str:
        call = tx.get_call_pk(pk)
        seen.append(call.status)
        if call.status != "ringing":
            return call.status
        return tx.update_call(pk, expect="ringing", status="no_answer", ended_at=3).status

    try:
        answering = ThreadPoolExecutor(1).submit(first.write_sync, answer)
        assert held.wait(5)
        threading.Timer(0.3, gate.set).start()  # the other waits on the row meanwhile
        assert second.write_sync(expire) == "answered"
        assert answering.result(5) == "answered"
        assert seen == ["ringing", "answered"]
        assert first.read_sync(lambda r: r.get_call_pk(pk)).status == "answered"
    finally:
        gate.set()
        first.close()
        second.close()


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_batch_that_meets_a_deadlock_runs_again(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    committed: list[Event] = []
    store.on_commit = committed.extend
    runs: list[int] = []

    def flaky(tx: WriteTx) -> str:
        runs.append(1)
        tx.emit(1, [Variant(None, {"run": len(runs)})])
        if len(runs) == 1:
            raise OperationalError("UPDATE ...", {}, _Deadlock())
        return "done"

    try:
        assert store.write_sync(flaky) == "done"
        assert len(runs) == 2
        assert [e.variants[0].data for e in store.read_sync(lambda r: r.events_after(0))] == [{"run": 2}]
        assert [e.id for e in committed] == [1]
    finally:
        store.close()


def test_every_integer_is_64_bit_on_postgresql() -> None:
    """Times are microseconds since the epoch: a 32-bit column overflows (a new column made with Integer
    instead of schema.Int fails here)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    for table in schema.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
        assert " INTEGER" not in ddl, table.name


def test_an_event_queued_in_the_batch_is_found_and_rewritten_by_a_later_request(
    opener: Callable[[], Store],
) -> None:
    """A message sent and deleted in one writer batch: the delete finds the send's event before it is in
    the log (on PostgreSQL its id is given at commit) and the log keeps only the rewritten one."""
    store = opener()
    gate, held = threading.Event(), threading.Event()

    def hold(tx: WriteTx) -> None:
        held.set()
        gate.wait(5)

    def send(tx: WriteTx) -> None:
        tx.emit(1, [Variant(None, {"id": "m1", "body": "secret"})], "m1")

    def delete(tx: WriteTx) -> int:
        found = tx.events_carrying("m1")
        for event in found:
            tx.replace_event(Event(event.id, event.at, (Variant(None, {"id": "m1", "body": ""}),)))
        return len(found)

    pool = ThreadPoolExecutor(3)
    try:
        holding = pool.submit(store.write_sync, hold)
        assert held.wait(5)
        sent = pool.submit(store.write_sync, send)
        time.sleep(0.1)  # the send is queued before the delete
        deleted = pool.submit(store.write_sync, delete)
        time.sleep(0.1)
        gate.set()
        holding.result(5)
        sent.result(5)
        assert deleted.result(5) == 1
        stored = store.read_sync(lambda r: r.events_after(0))
        assert [e.variants[0].data for e in stored] == [{"id": "m1", "body": ""}]
        assert [e.id for e in store.read_sync(lambda r: r.events_carrying("m1"))] == [stored[0].id]
    finally:
        gate.set()
        pool.shutdown()
        store.close()


def test_the_store_reconnects_when_the_database_drops_its_connections(pg_url: str) -> None:
    """A database restart or an administrator's pg_terminate_backend: the next read and the next write work
    on new connections (nothing of them had run), and the doorbell listens again."""
    store = PostgresStore(pg_url)
    rung: list[int] = []
    store.on_foreign = rung.append
    try:
        store.write_sync(lambda tx: tx.emit(1, [Variant(None, {"n": 1})]))
        assert store.read_sync(lambda r: r.max_event_id()) == 1
        heard = len(rung)
        engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            dropped = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        engine.dispose()
        assert dropped >= 3  # the writer, a reader, the listener
        assert store.read_sync(lambda r: r.max_event_id()) == 1
        store.write_sync(lambda tx: tx.emit(2, [Variant(None, {"n": 2})]))
        assert [e.id for e in store.read_sync(lambda r: r.events_after(0))] == [1, 2]
        deadline = time.monotonic() + 5
        while 0 not in rung[heard:] and time.monotonic() < deadline:  # listening again: it rings to catch up
            time.sleep(0.05)
        assert 0 in rung[heard:]
    finally:
        store.close()
