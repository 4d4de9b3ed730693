"""Messages typed while offline, kept on disk until the server acknowledges them."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from huddle_tui.config import user_file


@dataclass
class Pending:
    """A message waiting to be sent; `key` is its Idempotency-Key, so a retry never doubles it."""

    key: str
    to: str
    body: str
    created: str
    reply_to: str | None = None  # the message this one answers


class Outbox:
    """A small JSON file per server and user; every change is written before it counts."""

    def __init__(self, directory: Path, server: str, user: str) -> None:
        self.path = user_file(directory, server, user, "outbox")
        self.problem: str | None = None
        self.items: list[Pending] = self._read()

    def _read(self) -> list[Pending]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return [Pending(**item) for item in data]
        except (OSError, ValueError, TypeError):
            return []

    def _write(self) -> None:
        # A data directory that cannot be written keeps the outbox in memory only: sending
        # goes on, but what waits would not survive a restart; `problem` says why, once.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump([asdict(p) for p in self.items], fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self.problem = None
        except OSError as exc:
            self.problem = f"Cannot keep unsent messages in {self.path.parent}: {exc.strerror or exc}"

    def add(self, to: str, body: str, reply_to: str | None = None) -> Pending:
        """Keep a message until it is acknowledged."""
        item = Pending(uuid.uuid4().hex, to, body, datetime.now(UTC).isoformat(), reply_to)
        self.items.append(item)
        self._write()
        return item

    def done(self, key: str) -> None:
        """The server has it (or refused it for good)."""
        self.items = [p for p in self.items if p.key != key]
        self._write()
