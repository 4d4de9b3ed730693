"""The store interface: read transactions, and write transactions through one writer.

An engine implements `Store`; the repository it hands out (`ReadTx`, `WriteTx`: SQLAlchemy Core over
one connection) is the same for every engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

from server.model import Event
from server.store.repo import ReadTx, WriteTx

T = TypeVar("T")
EventSink = Callable[[list[Event]], None]
# Told (on another thread) that the log may have grown up to this id by another process's commit.
Doorbell = Callable[[int], None]

__all__ = ["Doorbell", "EventSink", "ReadTx", "SchemaTooNew", "Store", "WriteTx"]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the server."""


class Store(ABC):
    """Persistence: concurrent reads, serialised writes, events committed with their change.

    `on_commit`, when set, is called with the events of each commit (on the writer's thread) once
    they are durable, in id order; `on_foreign`, when set, when another process committed some.
    """

    on_commit: EventSink | None = None
    # Set by the hub on a store that hears other processes' commits (PostgreSQL's LISTEN); a store that
    # cannot leaves the hub to its poll of the log.
    on_foreign: Doorbell | None = None
    # Set by the hub: an ephemeral frame (typing) another process broadcast (see `broadcast`).
    on_broadcast: Callable[[str], None] | None = None

    def broadcast(self, payload: str) -> None:
        """Pass an ephemeral frame to the other processes on this database, best effort, without waiting
        (PostgreSQL: NOTIFY); a store of one process has no one to tell."""
        return None

    @abstractmethod
    def read_sync(self, fn: Callable[[ReadTx], T]) -> T:
        """Run fn in one read transaction (a consistent snapshot), in this thread."""

    @abstractmethod
    def write_sync(self, fn: Callable[[WriteTx], T]) -> T:
        """Run fn in one write transaction through the writer and wait for the commit."""

    @abstractmethod
    async def read(self, fn: Callable[[ReadTx], T]) -> T:
        """Run fn in one read transaction off the event loop."""

    @abstractmethod
    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        """Run fn in one write transaction through the writer; returns after the commit."""

    @abstractmethod
    def close(self) -> None:
        """Stop the writer and close connections."""
