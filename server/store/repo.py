"""The repository of one transaction: every aggregate's queries over its connection (SQLAlchemy Core,
portable across engines; server.store.sqlite_fast speeds up a few on SQLite).

`ReadTx` only reads: it is what a read transaction gets. `WriteTx` also changes tables and appends
to the event log: only the writer hands it out. Neither knows a rule: the domain decides who may
do what, and calls these inside a store transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from server.model import Event, Variant
from server.store.calls import CallReads, CallWrites
from server.store.convos import ConvoReads, ConvoWrites
from server.store.events import EventReads, EventWrites
from server.store.groups import GroupReads, GroupWrites
from server.store.holders import HolderReads, HolderWrites
from server.store.messages import MessageReads, MessageWrites
from server.store.ooo import OooReads, OooWrites
from server.store.reactions import ReactionReads, ReactionWrites
from server.store.search import SearchReads
from server.store.streams import StreamReads, StreamWrites
from server.store.users import UserReads, UserWrites


def stored_variants(variants: Iterable[Variant]) -> list[list[Any]]:
    """An event's variants as the log keeps them: [audience (sorted pks, or None for everyone), data]."""
    return [[None if v.audience is None else sorted(v.audience), v.data] for v in variants]


class ReadTx(
    UserReads,
    GroupReads,
    MessageReads,
    ReactionReads,
    SearchReads,
    ConvoReads,
    StreamReads,
    CallReads,
    OooReads,
    EventReads,
    HolderReads,
):
    """A read transaction: a consistent snapshot, and no way to change it."""


class WriteTx(
    UserWrites,
    GroupWrites,
    MessageWrites,
    ReactionWrites,
    ConvoWrites,
    StreamWrites,
    CallWrites,
    OooWrites,
    EventWrites,
    HolderWrites,
    ReadTx,
):
    """A write transaction: table changes plus the event log, committed together."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.events: list[Event] = []

    def claim(self, job: str) -> bool:
        """Whether this transaction may run a periodic job that one process at a time runs (the ring
        timeout, away flips): on SQLite every write transaction holds the database's one write lock."""
        return True

    def emit(self, at: int, variants: list[Variant], message_id: str | None = None) -> Event:
        """Append one event, committed with the rest of this transaction; `message_id` names the message
        whose body it carries (on PostgreSQL its id is given at the commit: the writer's `on_commit` and
        the log have it, not the Event returned here)."""
        stored = stored_variants(variants)
        event = Event(id=self.insert_event(at, stored, message_id), at=at, variants=tuple(variants))
        self.events.append(event)
        return event
