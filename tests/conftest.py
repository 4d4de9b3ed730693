"""Shared fixtures: platform dirs in tmp_path, and a real server on 127.0.0.1:0 (tests.support)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain.clock import Clock
from server.settings import Settings
from tests.support import TEAM_TOML, LiveServer, load_team
from tests.support import postgres as pg


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real config or data directories."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def store_kind() -> str:
    """The store that make_server's databases are made in: "sqlite" here; a module that overrides this
    fixture with params ["sqlite", "postgresql"] runs its tests against both."""
    return "sqlite"


@pytest.fixture
def new_db(request: pytest.FixtureRequest, store_kind: str, tmp_path: Path) -> Callable[[], Path | str]:
    """Makes a fresh, empty database of the store under test: a SQLite file, or a PostgreSQL URL."""
    made = itertools.count()

    def new() -> Path | str:
        if store_kind == "postgresql":
            return request.getfixturevalue("pg_cluster").new_database()  # type: ignore[no-any-return]
        db = tmp_path / f"server{next(made)}" / "huddle.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        return db

    return new


@pytest.fixture
def make_server(new_db: Callable[[], Path | str]) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers; each gets a fresh database with the test team unless told otherwise."""
    started: list[LiveServer] = []

    def make(*, clock: Clock | None = None, team: str | None = TEAM_TOML, **overrides: Any) -> LiveServer:
        db = overrides.pop("db", None) or new_db()
        if isinstance(db, Path):
            db.parent.mkdir(parents=True, exist_ok=True)
        if team is not None:
            load_team(db, team)
        settings = Settings(db=db, **{"tick_seconds": 0.05, **overrides})
        server = LiveServer(settings, clock).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    """A real server with the test team, on the system clock."""
    return make_server()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    """A throwaway PostgreSQL for the whole session (skipped where it cannot run, unless HUDDLE_REQUIRE_PG=1)."""
    try:
        cluster = pg.Cluster()
    except pg.Missing as exc:
        if pg.REQUIRED:
            pytest.fail(f"HUDDLE_REQUIRE_PG=1 but {exc}")
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: pg.Cluster) -> str:
    """The URL of a fresh, empty PostgreSQL database (`--db` takes it)."""
    return pg_cluster.new_database()
