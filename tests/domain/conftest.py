"""A Domain in process: a temporary database, a manual clock, no HTTP (each test well under a second)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.dialects.events import render
from server.dialects.times import parse_rfc3339
from server.domain.clock import ManualClock
from server.domain.core import Domain
from server.settings import Settings
from server.store.base import Store
from server.store.postgres import PostgresStore
from server.store.sqlite import SqliteStore

START = "2024-03-15T09:00:00Z"
# The test team, without passwords (nobody signs in: the domain is called with user pks).
TEAM: dict[str, Any] = {
    "users": [
        {"handle": "alex.kim", "display_name": "Alex Kim", "team": "infrastructure"},
        {"handle": "jin.park", "display_name": "Jin Park", "team": "infrastructure"},
        {"handle": "maya.chen", "display_name": "Maya Chen", "team": "infrastructure"},
        {"handle": "sam.ortiz", "display_name": "Sam Ortiz", "team": "design"},
        {"handle": "hr.admin", "display_name": "HR Admin", "admin": True},
    ],
    "teams": [{"name": "infrastructure", "members": ["alex.kim", "jin.park", "maya.chen"]}],
    "workspaces": [{"name": "platform", "members": ["alex.kim", "maya.chen"], "state": "active"}],
    "channels": [{"name": "general"}],
}


class World:
    """The domain, its clock, and the pk of each handle."""

    def __init__(self, domain: Domain, clock: ManualClock) -> None:
        self.domain = domain
        self.clock = clock
        users = domain.store.read_sync(lambda repo: repo.list_users())
        self.pk = {u.handle: u.pk for u in users}

    def events(self, after: int = 0) -> list[tuple[frozenset[int] | None, dict[str, Any]]]:
        """Every (audience, data) variant written to the log after an event id."""
        found = self.domain.store.read_sync(lambda repo: repo.events_after(after, None, 10_000))
        return [(v.audience, v.data) for e in found for v in e.variants]

    def last_event_id(self) -> int:
        """The newest event id."""
        return self.domain.store.read_sync(lambda repo: repo.max_event_id())


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each engine: a SQLite file, a PostgreSQL database."""
    made: Store
    if request.param == "sqlite":
        made = SqliteStore(tmp_path / "domain.db", synchronous="NORMAL")
    else:
        made = PostgresStore(request.getfixturevalue("pg_url"))
    yield made
    made.close()


@pytest.fixture
async def world(store: Store, tmp_path: Path) -> AsyncIterator[World]:
    """The test team in a fresh domain, started (its periodic checks only run when a test calls tick())."""
    clock = ManualClock(parse_rfc3339(START))
    settings = Settings(db=tmp_path / "domain.db", tick_seconds=3600, ring_timeout=30, away_after=300)
    domain = Domain(store, settings, render, clock)
    domain.admin.load(TEAM)
    await domain.start()
    try:
        yield World(domain, clock)
    finally:
        await domain.stop()
