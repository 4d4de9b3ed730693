"""The one source of time. Tests swap in a ManualClock and move it."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Tells the time in microseconds since the epoch, UTC."""

    def now(self) -> int:
        """Current time in microseconds."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> int:
        """Current time in microseconds."""
        return time.time_ns() // 1000


class ManualClock:
    """A clock that moves only when told to (thread-safe)."""

    def __init__(self, start: int) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> int:
        """Current time in microseconds."""
        with self._lock:
            return self._now

    def set(self, at: int) -> None:
        """Jump to a time."""
        with self._lock:
            self._now = at

    def advance(self, seconds: float) -> None:
        """Move forward."""
        with self._lock:
            self._now += int(seconds * 1_000_000)
