"""Real server processes for the benchmarks: huddle-server on a fresh database, and the relay floor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.dialects.events import render
from server.domain.core import Domain
from server.settings import Settings
from server.store.base import WriteTx
from server.store.open import open_store

# Limits raised for the benchmark (the defaults would throttle it): 0 = off.
LIMIT_FLAGS = ["--send-rate", "0", "--login-rate", "0", "--max-streams-per-user", "0", "--limit-concurrency", "0"]


@dataclass
class Running:
    """A server process and how to reach it."""

    proc: subprocess.Popen[bytes]
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)

    @property
    def ws(self) -> str:
        """The WebSocket base URL."""
        return self.url.replace("http://", "ws://")

    def rss_kib(self) -> int:
        """Resident memory of the server process."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        """Stop it (bounded)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def seed(
    db: Path | str, *, users: int, channels: int = 1, messages: int = 0, team: str = "bench"
) -> tuple[dict[str, str], list[str]]:
    """Users (no passwords: tokens instead), one team, channels and channel messages; returns tokens.
    `db` is a SQLite file or a PostgreSQL URL."""
    store = open_store(db, synchronous="NORMAL")
    domain = Domain(store, Settings(db=db), render)
    handles = [f"u{i:04d}" for i in range(users)]

    def people(tx: WriteTx) -> tuple[dict[str, str], list[str]]:
        tokens = {}
        team_pk, _ = domain.admin.ensure_team(tx, team, [])
        for handle in handles:
            pk, _ = domain.admin.ensure_user(tx, handle, display_name=f"User {handle}")
            tx.add_team_member(team_pk, pk)
            tokens[handle] = domain.auth.issue(tx, pk)
        names = []
        for c in range(channels):
            domain.admin.ensure_channel(tx, f"channel-{c}")
            names.append(f"channel-{c}")
        return tokens, names

    tokens, _ = store.write_sync(people)
    channel_ids = store.read_sync(lambda r: [c.public_id or "" for c in r.list_channels()])
    if messages:
        senders = store.read_sync(lambda r: [u.pk for u in r.list_users()])
        convs = store.read_sync(lambda r: [c.pk for c in r.list_channels()])

        def chunk(start: int, count: int) -> None:
            def run(tx: WriteTx) -> None:
                now = domain.clock.now()
                for i in range(start, start + count):
                    tx.insert_message(
                        public_id=f"msg_seed{i:08x}",
                        conversation_pk=convs[i % len(convs)],
                        sender_pk=senders[i % len(senders)],
                        body=f"seeded message {i} with a little text in it",
                        created_at=now - (messages - i) * 1000,
                        deleted=False,
                    )

            store.write_sync(run)

        for start in range(0, messages, 2000):
            chunk(start, min(2000, messages - start))
    store.close()
    return tokens, channel_ids


def start_huddle(
    root: Path,
    *,
    users: int,
    channels: int = 1,
    messages: int = 0,
    extra: list[str] | None = None,
    then: Callable[[Path], None] | None = None,
) -> Running:
    """huddle-server serve on a fresh database in root, seeded (and `then` given the database first)."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "bench.db"
    return start_nodes(db, 1, users=users, channels=channels, messages=messages, extra=extra, then=then)[0]


def start_nodes(
    db: Path | str,
    count: int,
    *,
    users: int,
    channels: int = 1,
    messages: int = 0,
    extra: list[str] | None = None,
    then: Callable[[Path], None] | None = None,
) -> list[Running]:
    """`count` huddle-server serve processes on one database (a SQLite file, or a PostgreSQL URL), seeded
    (and `then` given a SQLite database first)."""
    tokens, channel_ids = seed(db, users=users, channels=channels, messages=messages)
    if then is not None and isinstance(db, Path):
        then(db)
    cmd = [sys.executable, "-m", "server", "serve", "--port", "0", "--db", str(db), *LIMIT_FLAGS, *(extra or [])]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for _ in range(count)]
    running = []
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            for p in procs:
                p.kill()
            raise RuntimeError(f"huddle-server did not start: {line!r}")
        running.append(Running(proc, line.removeprefix("listening on "), tokens, channel_ids))
    return running


def free_port() -> int:
    """A free localhost port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_relay() -> Running:
    """The bare relay (bench/relay.py) on a free port."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.relay", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Running(proc, f"http://127.0.0.1:{port}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the relay did not start")
