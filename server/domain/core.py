"""The domain: every rule of the server, behind one object the dialects call.

`Domain` builds the services, each given the collaborators it uses, and runs the periodic checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.domain.accounts import Accounts
from server.domain.actors import actor_of
from server.domain.admin import Admin
from server.domain.auth import Auth, token_hash
from server.domain.boot import Snapshots
from server.domain.calls import Calls
from server.domain.channels import Channels
from server.domain.chat import Chat
from server.domain.clock import Clock, SystemClock
from server.domain.convos import Convos
from server.domain.errors import Gone, RateLimited
from server.domain.events import EventLog, Render
from server.domain.groups import Groups
from server.domain.limits import SendLimit
from server.domain.messaging import Messaging
from server.domain.ooo import Ooo
from server.domain.people import ALIVE_WINDOW, People
from server.domain.search import Search
from server.domain.streams import Streams
from server.events import Hub, ResumePointGone, Subscription, TooManyStreams
from server.settings import Settings
from server.store.base import Store, WriteTx

log = logging.getLogger("huddle.domain")
_PRUNE_EVERY_US = 60 * 1_000_000
_IDEMPOTENCY_KEEP_US = 24 * 3600 * 1_000_000
HEALTH_SECONDS = 5.0


class Domain:
    """Owns the store, the clock, the hub and the services that hold the rules.

    `render` is how each event reads on the event stream (server.dialects.events.render).
    """

    def __init__(self, store: Store, settings: Settings, render: Render, clock: Clock | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        clock = self.clock
        self.hub = Hub(
            store,
            max_streams_per_user=settings.max_streams_per_user,
            max_buffered_bytes=settings.max_buffered_bytes,
        )
        log_ = EventLog(render)
        sends = SendLimit(settings.send_rate, max_keys=settings.login_tracked_keys)
        self.people = People(
            store,
            clock,
            log_,
            away_after=settings.away_after,
            stream_grace=settings.stream_grace,
            alive_window=max(ALIVE_WINDOW, 5 * settings.tick_seconds),
        )
        self.auth = Auth(store, clock, settings, self.hub, self.people)
        self.admin = Admin(store, clock, log_)
        self.messages = Messaging(store, clock, log_, self.people, sends)
        self.calls = Calls(store, clock, log_, self.people, ring_timeout=settings.ring_timeout)
        self.accounts = Accounts(store, clock, self.auth, self.admin, self.people, setup_token=settings.setup_token)
        self.groups = Groups(store, clock, self.people)
        self.ooo = Ooo(store, clock, log_, self.people, self.groups)
        self.channels = Channels(store, clock, log_, self.people, self.messages, self.admin, sends)
        self.chat = Chat(store, clock, log_, self.people, self.messages, self.channels, self.hub, sends)
        self.search = Search(store, self.messages)
        self.convos = Convos(store, clock, log_, self.people, self.messages, sends)
        self.streams = Streams(store, clock, self.people, self.messages, sends, data_depth=settings.esn_data_depth)
        self.snapshots = Snapshots(
            store,
            self.people,
            window=settings.boot_window,
            body_bytes=settings.boot_body_bytes,
            body_budget=settings.boot_body_budget,
        )
        self._ticker: asyncio.Task[None] | None = None
        self._last_prune = 0
        self.hub.on_last_closed = self.people.streams_closed

    # ---- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Start relaying events and the periodic checks (calls left ringing end at once)."""
        await self.hub.start()
        await self.tick()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        """Stop the periodic checks and the hub."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.hub.stop()
        self.auth.close()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                await self.tick()
            except Exception:
                log.exception("periodic check failed")
            try:
                await self.auth.end_revoked_streams()
            except Exception:
                log.exception("checking the tokens of open streams failed")

    async def tick(self) -> None:
        """Ring timeouts, away flips, OOO boundaries, and (once a minute) retention."""
        await self.store.write(self._tick)
        # Streams closed are this process's to know: its own job, so that a run of the shared one again
        # (after another process's commit got in its way) cannot forget who left.
        await self.store.write(lambda tx: self.people.leave_after_grace(tx, self.clock.now()))

    def _tick(self, tx: WriteTx) -> None:
        # The database's periodic work, done by one process at a time when several share it (and guarded
        # besides by conditional changes, so each call ends and each user turns away once).
        if not tx.claim("tick"):
            return
        now = self.clock.now()
        self.calls.expire(tx, now)
        self.people.flip_away(tx, now)
        self.people.forget_stopped(tx, now)
        checked = tx.get_meta("ooo_checked_at")
        if checked is not None and int(checked) < now:
            self.ooo.announce_boundaries(tx, int(checked), now)
        if checked is None or int(checked) < now:
            tx.set_meta("ooo_checked_at", str(now))
        if now - self._last_prune >= _PRUNE_EVERY_US:
            self._last_prune = now
            tx.prune_events(now - int(self.settings.event_retention * 1_000_000))
            tx.prune_idempotency(now - _IDEMPOTENCY_KEEP_US)

    async def health(self) -> int | None:
        """The newest event id, read from the store now; None when the store does not answer within
        HEALTH_SECONDS (a load balancer then takes this process out)."""
        try:
            return await asyncio.wait_for(self.store.read(lambda repo: repo.max_event_id()), HEALTH_SECONDS)
        except Exception:
            log.warning("health check: the store does not answer", exc_info=True)
            return None

    # ---- events ---------------------------------------------------------------------
    async def subscribe(self, viewer_pk: int, resume_point: int | None, token: str | None = None) -> Subscription:
        """The viewer's event stream after resume_point, closed when `token` (the credentials it
        was opened with) is revoked or expires."""
        await self.store.read(lambda repo: actor_of(repo, viewer_pk))
        try:
            sub = await self.hub.subscribe(viewer_pk, resume_point)
        except TooManyStreams:
            raise RateLimited("TooManyStreams", "too many open event streams for this user", retry_after=5) from None
        except ResumePointGone:
            raise Gone("ResumePointGone", "that resume point is no longer available; boot again") from None
        sub.token = token_hash(token) if token else None
        self.people.stream_opened(viewer_pk)
        await self.people.hold_stream(viewer_pk)
        return sub
