"""The live event stream over a WebSocket: reconnect with backoff, resume, dead-link detection.

No Textual here: the app hands in callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, WebSocketException

from huddle_tui import untrusted, wire
from huddle_tui.errors import Unexpected
from huddle_tui.records import Event

log = logging.getLogger("huddle.events")

OnEvent = Callable[[int | None, Event], object]
OnState = Callable[[str, str], object]  # (state, detail): live | connecting | reconnecting | stopped
OnGone = Callable[[], Awaitable[int]]  # re-boot; returns the new resume point
OnGarbage = Callable[[str], object]  # a frame or a handshake was not understood: what, and what now

MAX_BACKOFF = 30.0
# A server restart takes seconds: retry soon and often for the first minute (a doubling
# backoff had clients wait 16-20 s after a restart), then back off to MAX_BACKOFF.
QUICK_RETRIES = (0.5, 1.0, 2.0, 3.0, *([5.0] * 10))


def backoff(attempt: int) -> float:
    """Seconds to wait before reconnect attempt `attempt` (1, 2, …)."""
    if attempt <= len(QUICK_RETRIES):
        return QUICK_RETRIES[attempt - 1]
    return min(MAX_BACKOFF, 10.0 * 2.0 ** (attempt - len(QUICK_RETRIES) - 1))


class EventStream:
    """Keeps one WebSocket event stream alive and resumes it where it left off."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        resume_point: int,
        heartbeat: int,
        on_event: OnEvent,
        on_state: OnState,
        on_gone: OnGone,
        on_unauthorized: Callable[[], object] | None = None,
        on_garbage: OnGarbage | None = None,
    ) -> None:
        self.url = base_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.url += "/api/events"
        self.token = token
        self.resume_point = resume_point
        self.heartbeat = heartbeat
        self.on_event = on_event
        self.on_state = on_state
        self.on_gone = on_gone
        self.on_unauthorized = on_unauthorized
        self.on_garbage = on_garbage
        self._complained = False  # said once until the next good connection: garbage comes by the thousand
        self._conn: ClientConnection | None = None
        self._wake = asyncio.Event()
        self.attempts = 0

    @property
    def deadline(self) -> float:
        """No frame for this long means the link is dead (heartbeats come at least this often)."""
        return float(max(1, self.heartbeat - 5)) + 10.0

    def reconnect_now(self) -> None:
        """Drop the link and try again at once (the laptop woke up, the user asked)."""
        self._wake.set()
        if self._conn is not None:
            task = asyncio.ensure_future(self._conn.close())
            task.add_done_callback(lambda _: None)

    async def send_activity(self) -> bool:
        """Tell the server the user is here; False when offline."""
        if self._conn is None:
            return False
        try:
            await self._conn.send('{"type":"activity"}')
        except ConnectionClosed:
            return False
        return True

    async def run(self) -> None:
        """Connect, relay events, reconnect forever (until cancelled or unauthorized)."""
        while True:
            self.on_state("connecting" if self.attempts == 0 else "reconnecting", "")
            try:
                await self._session()
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status == 410 and await self._reboot():
                    continue
                if status in (401, 403):
                    self.on_state("stopped", "signed out by the server")
                    if self.on_unauthorized:
                        self.on_unauthorized()
                    return
                log.info("event stream refused: %s", status)
                if status < 500 and status != 410:  # 5xx: restarting, or down behind its proxy
                    self._garbage(f"{status} instead of a WebSocket (a proxy that does not pass WebSockets?); retrying")
            except InvalidHandshake as exc:
                log.info("event stream handshake failed: %r", exc)
                if not isinstance(exc.__cause__, EOFError):  # EOF: the server went away mid-handshake
                    self._garbage("an answer that is not a WebSocket handshake; retrying")
            except (OSError, WebSocketException, TimeoutError, EOFError) as exc:
                # Refused, cut (even mid-frame), a protocol error: try again.
                log.info("event stream dropped: %r", exc)
            self._conn = None
            self.attempts += 1
            delay = backoff(self.attempts) * random.uniform(0.8, 1.2)
            self.on_state("reconnecting", f"{delay:.0f}")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _reboot(self) -> bool:
        """The resume point is too old: a fresh snapshot; False if that failed too (retry later)."""
        try:
            self.resume_point = await self.on_gone()
        except Exception as exc:  # offline, or garbage: the caller's concern is only "not now"
            log.info("re-boot failed: %r", exc)
            return False
        self.attempts = 0
        return True

    async def _session(self) -> None:
        url = f"{self.url}?resume_point={self.resume_point}"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with connect(url, additional_headers=headers, open_timeout=10, ping_interval=20) as conn:
            self._conn = conn
            self.attempts = 0
            self._complained = False
            self.on_state("live", "")
            watchdog = asyncio.create_task(self._watch_clock(conn))
            try:
                while True:
                    raw = await asyncio.wait_for(conn.recv(), self.deadline)
                    self._handle(raw)
            finally:
                watchdog.cancel()
                self._conn = None

    def _handle(self, raw: str | bytes) -> None:
        try:
            parsed = wire.frame(raw)
        except Unexpected as exc:
            self._garbage(f"{exc.detail}; skipped it")
            return
        if parsed is None:
            return
        event_id, event = parsed
        if event_id is not None:
            if event_id <= self.resume_point:
                return  # already seen
            self.resume_point = event_id
        self.on_event(event_id, event)

    def _garbage(self, why: str) -> None:
        # Never fatal: one bad frame must not cost the user the rest of the stream.
        log.warning("event stream: %s", untrusted.line(why))  # the server's words: through the door
        if not self._complained and self.on_garbage is not None:
            self._complained = True
            self.on_garbage(why)

    async def _watch_clock(self, conn: ClientConnection) -> None:
        # A wall-clock jump larger than the monotonic one means the machine slept: the
        # connection is probably dead even if the socket does not know it yet.
        wall, mono = time.time(), time.monotonic()
        while True:
            await asyncio.sleep(2)
            new_wall, new_mono = time.time(), time.monotonic()
            if abs((new_wall - wall) - (new_mono - mono)) > 10:
                await conn.close()
                return
            wall, mono = new_wall, new_mono
