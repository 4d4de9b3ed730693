"""The domain: every rule of the server, behind one object the dialects call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, replace
from operator import attrgetter

from server.domain.accounts import Accounts
from server.domain.admin import Admin
from server.domain.auth import Auth, token_hash
from server.domain.calls import Calls
from server.domain.channels import Channels
from server.domain.clock import Clock, SystemClock
from server.domain.convos import Convos
from server.domain.groups import Groups
from server.domain.mail import MailLimits, MailReader
from server.domain.messaging import MessageView, Messaging, mentions, preview, utf8_size
from server.domain.ooo import Ooo
from server.domain.people import People, UserView
from server.domain.streams import Streams
from server.events import Hub, Subscription
from server.model import Conversation, Message, User
from server.settings import Settings
from server.store.base import Store, WriteTx
from server.store.repo import Repo

log = logging.getLogger("huddle.domain")
_PRUNE_EVERY_US = 60 * 1_000_000
_IDEMPOTENCY_KEEP_US = 24 * 3600 * 1_000_000
MENTION_SCAN = 2000  # unread channel bodies boot reads at most to count mentions


@dataclass(frozen=True, slots=True)
class Boot:
    """A snapshot for one viewer and the event id it includes."""

    user: User
    resume_point: int
    users: list[UserView]
    channels: list[Conversation]
    messages: list[MessageView]
    # Unread DMs per partner handle, counted over all of them (boot carries only a window).
    unread: dict[str, int]
    # Per channel pk: (unread messages, how many of them mention the viewer), over all of them.
    channel_unread: dict[int, tuple[int, int]]


class Domain:
    """Owns the store, the clock, the hub and the services that hold the rules."""

    def __init__(self, store: Store, settings: Settings, clock: Clock | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.hub = Hub(
            store,
            max_streams_per_user=settings.max_streams_per_user,
            max_buffered_bytes=settings.max_buffered_bytes,
        )
        self.auth = Auth(self)
        self.people = People(self)
        self.messages = Messaging(self)
        self.calls = Calls(self)
        self.admin = Admin(self)
        self.accounts = Accounts(self)
        self.ooo = Ooo(self)
        self.groups = Groups(self)
        self.channels = Channels(self)
        self.convos = Convos(self)
        self.streams = Streams(self)
        limits = MailLimits(
            max_headers=settings.mail_max_headers,
            max_header_bytes=settings.mail_max_header_bytes,
            max_encoded_words=settings.mail_max_encoded_words,
            max_parts=settings.mail_max_parts,
            max_multiparts=settings.mail_max_multiparts,
        )
        self.mail = MailReader(limits, settings.mail_workers)
        self._ticker: asyncio.Task[None] | None = None
        self._last_prune = 0
        # Users whose last event stream closed, and when: away once `stream_grace` has passed
        # without a new one (a reconnect within it changes nothing).
        self._streams_gone: dict[int, int] = {}
        self.hub.on_last_closed = lambda pk: self._streams_gone.__setitem__(pk, self.clock.now())

    def actor(self, repo: Repo, pk: int) -> User:
        """The signed-in user making a request."""
        return self.auth.user_of(repo, pk)

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
        self.mail.close()
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
        """Ring timeouts, away flips, and (once a minute) retention."""
        await self.store.write(self._tick)

    def _tick(self, tx: WriteTx) -> None:
        now = self.clock.now()
        self.calls.expire(tx, now)
        self.people.flip_away(tx, now)
        grace = int(self.settings.stream_grace * 1_000_000)
        for user_pk, closed_at in list(self._streams_gone.items()):
            if now - closed_at >= grace:
                del self._streams_gone[user_pk]
                self.people.left(tx, user_pk, now)
        checked = tx.get_meta("ooo_checked_at")
        if checked is not None and int(checked) < now:
            self.ooo.announce_boundaries(tx, int(checked), now)
        if checked is None or int(checked) < now:
            tx.set_meta("ooo_checked_at", str(now))
        if now - self._last_prune >= _PRUNE_EVERY_US:
            self._last_prune = now
            tx.prune_events(now - int(self.settings.event_retention * 1_000_000))
            tx.prune_idempotency(now - _IDEMPOTENCY_KEEP_US)

    # ---- boot and events ----------------------------------------------------------
    async def boot(self, viewer_pk: int) -> Boot:
        """The viewer's snapshot; resume_point is the last event it includes."""

        def run(repo: Repo) -> Boot:
            resume_point = repo.max_event_id()
            viewer = self.actor(repo, viewer_pk)
            users = repo.list_users()
            views = self.people.views(repo, viewer, users)
            channels = repo.list_channels()
            dms = repo.dm_conversations_of(viewer.pk)
            counts = repo.unread_dm_counts(viewer.pk)
            others = [*self.convos.conversations_of(repo, viewer), *self.streams.readable(repo, viewer)]
            convs = {c.pk: c for c in (*channels, *dms, *others)}
            per = self.settings.boot_body_bytes
            # Read a few bytes more than `per`: a body cut there still has more than `per` bytes of
            # whole characters, so `preview` sees it is longer.
            messages = repo.messages_in(list(convs), self.settings.boot_window, body_bytes=per + 4 if per else 0)
            handles = {u.pk: u.handle for u in users}
            public = {m.pk: m.public_id for m in messages}
            cut = self._bounded_bodies(messages)
            out = [
                MessageView(
                    cut.get(m.pk, m),
                    handles[m.sender_pk],
                    handles.get(m.recipient_pk) if m.recipient_pk else None,
                    convs[m.conversation_pk],
                    public.get(m.parent_pk) if m.parent_pk else None,
                    truncated=m.pk in cut,
                )
                for m in messages
            ]
            partners = {c.pk: c.user_b if c.user_a == viewer.pk else c.user_a for c in dms}
            unread = {handles[p]: n for pk, n in counts.items() if (p := partners.get(pk)) is not None}
            return Boot(viewer, resume_point, views, channels, out, unread, self._channel_unread(repo, viewer))

        return await self.store.read(run)

    def _bounded_bodies(self, messages: list[Message]) -> dict[int, Message]:
        """Boot's bounds on bodies, whatever others post: each at most `boot_body_bytes` of UTF-8, and all
        together at most `boot_body_budget`, spent on the newest first (older ones then carry no text).
        The messages cut, by pk; the whole body is a GET by id away."""
        per, budget = self.settings.boot_body_bytes, self.settings.boot_body_budget
        left = budget or sys.maxsize
        cut: dict[int, Message] = {}
        for m in sorted(messages, key=attrgetter("pk"), reverse=True):
            limit = min(per or sys.maxsize, left)
            body, truncated = preview(m.body, limit)
            if truncated:
                cut[m.pk] = replace(m, body=body)
            left -= utf8_size(body)
        return cut

    def _channel_unread(self, repo: Repo, viewer: User) -> dict[int, tuple[int, int]]:
        """Unread messages and mentions of the viewer per channel (mentions looked for in at most
        MENTION_SCAN candidate bodies: boot's work stays bounded whatever others post)."""
        counts = repo.unread_channel_counts(viewer.pk)
        mentioned: dict[int, int] = {}
        for conv_pk, body in repo.unread_channel_bodies_with(viewer.pk, "@" + viewer.handle, MENTION_SCAN):
            if mentions(body, viewer.handle):
                mentioned[conv_pk] = mentioned.get(conv_pk, 0) + 1
        return {pk: (n, mentioned.get(pk, 0)) for pk, n in counts.items()}

    async def subscribe(self, viewer_pk: int, resume_point: int | None, token: str | None = None) -> Subscription:
        """The viewer's event stream after resume_point, closed when `token` (the credentials it
        was opened with) is revoked or expires."""
        await self.store.read(lambda repo: self.actor(repo, viewer_pk))
        sub = await self.hub.subscribe(viewer_pk, resume_point)
        sub.token = token_hash(token) if token else None
        self._streams_gone.pop(viewer_pk, None)  # back within the grace: nothing to announce
        return sub
