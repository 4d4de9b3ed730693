"""The store interface: read transactions, write transactions through one writer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection

from server.model import Event, Variant
from server.store.repo import Repo

T = TypeVar("T")
EventSink = Callable[[list[Event]], None]


class WriteTx(Repo):
    """A write transaction: table access plus the event log."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.events: list[Event] = []

    def emit(self, at: int, variants: list[Variant]) -> Event:
        """Append one event, committed with the rest of this transaction."""
        stored = [[None if v.audience is None else sorted(v.audience), v.data] for v in variants]
        event = Event(id=self.insert_event(at, stored), at=at, variants=tuple(variants))
        self.events.append(event)
        return event


class Store(ABC):
    """Persistence: concurrent reads, serialised writes, events committed with their change."""

    on_commit: EventSink | None = None

    @abstractmethod
    def read_sync(self, fn: Callable[[Repo], T]) -> T:
        """Run fn in one read transaction (a consistent snapshot), in this thread."""

    @abstractmethod
    def write_sync(self, fn: Callable[[WriteTx], T]) -> T:
        """Run fn in one write transaction through the writer and wait for the commit."""

    @abstractmethod
    async def read(self, fn: Callable[[Repo], T]) -> T:
        """Run fn in one read transaction off the event loop."""

    @abstractmethod
    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        """Run fn in one write transaction through the writer; returns after the commit."""

    @abstractmethod
    def close(self) -> None:
        """Stop the writer and close connections."""
