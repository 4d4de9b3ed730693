"""Several `huddle-server serve` processes on one PostgreSQL database, and what tests of them need:
tokens, observers that follow a user's stream across processes, senders that retry on another process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import select

from server.dialects.events import render
from server.domain.core import Domain
from server.model import Event
from server.settings import Settings
from server.store import schema
from server.store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


class Node:
    """One `python -m server serve --port 0 --db URL` child process."""

    def __init__(self, db: str, folder: Path, *flags: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "stderr.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        env = {**os.environ, "XDG_DATA_HOME": str(folder / "data"), "XDG_CONFIG_HOME": str(folder / "config")}
        command = [sys.executable, "-m", "server", "serve", "--port", "0", "--db", db, *flags]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT, env=env)
        self.url = ""

    def wait_listening(self) -> Node:
        """Wait for the `listening on` line; the node's URL."""
        stdout = self.proc.stdout
        assert stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT).decode(errors="replace").strip()
        except queue.Empty:
            line = ""
        if not line.startswith("listening on http://127.0.0.1:"):
            self.kill()
            raise RuntimeError(f"the node did not start: {line!r} {self.stderr()}")
        self.url = line.split()[-1]
        return self

    def stderr(self) -> str:
        """The tail of what the node logged."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM, and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def start_nodes(db: str, folder: Path, count: int, *flags: str) -> list[Node]:
    """`count` nodes on one database, started together."""
    nodes = [Node(db, folder / f"node{i}", *flags) for i in range(count)]
    return [n.wait_listening() for n in nodes]


@contextlib.contextmanager
def opened(db: str) -> Iterator[PostgresStore]:
    """The database, opened from the test process."""
    store = PostgresStore(db)
    try:
        yield store
    finally:
        store.close()


def tokens(db: str, handles: Sequence[str]) -> dict[str, str]:
    """A token per handle, as `huddle-server token` makes them (no sign-in)."""
    with opened(db) as store:
        domain = Domain(store, Settings(db=db), render)
        return {h: domain.auth.issue_for(h) for h in handles}


def log_of(db: str) -> list[Event]:
    """Every event in the log, oldest first."""
    with opened(db) as store:
        return store.read_sync(lambda r: r.events_after(0, None, 10_000_000))


def stored_messages(db: str) -> list[tuple[str, str]]:
    """(public id, body) of every stored message."""
    m = schema.messages
    with opened(db) as store, store.engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(select(m.c.public_id, m.c.body).order_by(m.c.pk))]


def pks(db: str) -> dict[str, int]:
    """The pk of each handle."""
    with opened(db) as store:
        return {u.handle: u.pk for u in store.read_sync(lambda r: r.list_users())}


@dataclass
class Observer:
    """Follows one user's event stream from a resume point, moving to the next node when its node goes."""

    urls: list[str]
    token: str
    ids: list[int] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    resumes: int = 0
    node: int = 0
    last: int = 0

    async def run(self) -> None:
        """Read until cancelled."""
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            try:
                async with (
                    httpx.AsyncClient(base_url=self.urls[self.node], timeout=httpx.Timeout(10, read=60)) as client,
                    client.stream("GET", "/api/events", params={"resume_point": self.last}, headers=headers) as r,
                ):
                    assert r.status_code == 200, await r.aread()
                    await self._read(r)
            except (httpx.TransportError, AssertionError):
                pass
            self.resumes += 1
            self.node = (self.node + 1) % len(self.urls)
            await asyncio.sleep(0.05)

    async def _read(self, response: httpx.Response) -> None:
        event_id: int | None = None
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: ") and event_id is not None:
                self.ids.append(event_id)
                self.data.append(json.loads(line[6:]))
                self.last = event_id
                event_id = None

    async def until(self, last_id: int, seconds: float = 30.0) -> None:
        """Wait until it has read up to last_id (AssertionError after `seconds`)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while self.last < last_id:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the observer reached {self.last}, not {last_id}")
            await asyncio.sleep(0.05)
