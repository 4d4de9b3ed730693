"""A signed-in session with a Huddle server: sign-in, boot and its retry, the event stream,
the outbox, missed and seen calls, activity pings. No Textual here: what the UI must know
arrives through one callback, as `Update` records, in the order things happened."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from huddle_tui import presence
from huddle_tui.api import Api
from huddle_tui.cache import Cache
from huddle_tui.config import Config
from huddle_tui.errors import ApiError, Offline, Unexpected
from huddle_tui.events import EventStream
from huddle_tui.kept import KeptIds
from huddle_tui.outbox import Outbox
from huddle_tui.records import Boot, CallAction, CallRecord, ChatKey, Event, SearchPage
from huddle_tui.sending import Sender
from huddle_tui.store import State
from huddle_tui.updates import (
    Booted,
    Changed,
    ChatUpdated,
    Connection,
    MissedWhileAway,
    Notice,
    SignedOut,
    StatusChanged,
    Update,
    WatchedActive,
)

ACTIVITY_EVERY = 60.0  # seconds between activity pings while the user is busy


class Session:
    """Everything between the screen and the server, for one user on one server."""

    def __init__(
        self,
        config: Config,
        data: Path,
        tell: Callable[[Update], object],
        *,
        save_config: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.tell = tell
        self.save_config = save_config
        self.clock = clock or (lambda: datetime.now(UTC))
        self.state = State()
        self.api: Api | None = None
        self.stream: EventStream | None = None
        self.seen_calls: KeptIds | None = None
        self.cache: Cache | None = None
        self.watching: KeptIds | None = None  # people I want to be told about when they are active
        self.hidden_last_seen = False  # as I last set it here
        self.pings = 0  # activity pings sent (while the user types or moves; none when idle)
        self._last_activity = -ACTIVITY_EVERY
        self._early: asyncio.Task[Boot] | None = None
        self._wake = asyncio.Event()  # reconnect() cuts a start-up retry's wait short
        self._tasks: set[asyncio.Task[Any]] = set()  # work started and not awaited: kept, cancelled at close
        self.sender = Sender(self.state, lambda: self.api, self.tell, self._spawn, self.clock)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- signing in and out ---------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        """A token is there to use."""
        return bool(self.config.token)

    def prefetch(self) -> None:
        """Ask for the snapshot now, while the screen is still being built: the server answers
        while the widgets are composed and styled, instead of after. `run` takes it."""
        if self.signed_in:
            self.api = Api(self.config.server, self.config.token)
            self._early = asyncio.create_task(self.api.boot())

    async def sign_in(self, server: str, user: str, password: str) -> None:
        """Sign in and remember the token (ApiError in words if that fails)."""
        api = Api(server)
        try:
            handle = await api.login(user, password)
        finally:
            await api.close()
        self.config.server, self.config.user, self.config.token = server, handle, api.token or ""
        self.save_config()

    async def sign_out(self) -> None:
        """Revoke the token and forget it."""
        if self.api is not None:
            with contextlib.suppress(ApiError):
                await self.api.logout()
        self.forget("Signed out.")

    def forget(self, why: str) -> None:
        """The token is no good: forget it and say so."""
        self.config.token = ""
        self.save_config()
        self.stream = None
        self.tell(SignedOut(why))

    async def close(self) -> None:
        """Drop connections (the app is closing)."""
        if self._early is not None:
            self._early.cancel()
        for task in list(self._tasks):
            task.cancel()
        self.keep_cache()
        if self.api is not None:
            await self.api.close()

    # ---- the session's life ---------------------------------------------------------
    async def run(self) -> None:
        """Boot (retrying while the server is away), then keep the event stream alive."""
        early, self._early = self._early, None
        if early is None or self.api is None:
            if self.api is not None:
                await self.api.close()
            self.api = Api(self.config.server, self.config.token)
        self.sender.outbox = Outbox(self.data, self.config.server, self.config.user)
        self.cache = Cache(self.data, self.config.server, self.config.user)
        self.seen_calls = KeptIds(self.data, self.config.server, self.config.user, "calls-seen")
        self.watching = KeptIds(self.data, self.config.server, self.config.user, "watching")
        self.activity()  # opening the client is activity
        # Asked for with the snapshot and applied after it, while the stream connects.
        missed = asyncio.create_task(self._missed_calls())
        try:
            if await self._boot_until_it_works(early):
                await self._stream(missed)
        finally:
            missed.cancel()

    async def _boot_until_it_works(self, early: asyncio.Task[Boot] | None) -> bool:
        failures, said = 0, ""
        while True:
            try:
                await self.reboot(early)
                return True
            except ApiError as exc:
                early = None
                if exc.unauthorized:
                    self.forget("Your sign-in is no longer valid. Sign in again.")
                    return False
                failures += 1
                unexpected = "⚠ unexpected answer" if isinstance(exc, Unexpected) else "⚠ server error"
                self._connection("offline" if isinstance(exc, Offline) else unexpected, "")
                if exc.message != said:  # once per reason, not at every retry
                    said = exc.message
                    self.tell(Notice(f"{exc.sentence} Retrying…", "warning", 10))
                if failures == 1:
                    self._from_cache()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(30.0, 2.0 ** (failures - 1)))

    async def _stream(self, missed: asyncio.Task[list[CallRecord] | None]) -> None:
        calls = asyncio.create_task(self._apply_missed(missed))
        self._spawn(self.sender.flush())
        self.stream = EventStream(
            self.config.server,
            self.config.token,
            resume_point=self.state.resume_point,
            heartbeat=self.state.heartbeat,
            on_event=self.receive,
            on_state=self._connection,
            on_gone=self.reboot,
            on_unauthorized=lambda: self.forget("Signed out by the server. Sign in again."),
            on_garbage=lambda why: self.tell(
                Notice(f"The server sent something unexpected on the event stream: {why}.", "warning")
            ),
        )
        try:
            await self.stream.run()
        finally:
            calls.cancel()

    def _from_cache(self) -> None:
        """Out of reach at start: show what was known last time, marked as last known."""
        kept = self.cache.load() if self.cache is not None and not self.state.me else None
        if kept is None:
            return
        boot, saved_at = kept
        self.state.apply_boot(boot)
        self.state.out_of_reach_since, self.state.from_cache = saved_at, True
        self.tell(Booted())
        when = saved_at.astimezone().strftime("%a %-d %b %H:%M")
        self.tell(Notice(f"Showing what Huddle knew on {when}: the server is out of reach.", "warning", 10))

    def keep_cache(self) -> None:
        """Keep the snapshot on disk, for a start while the server is out of reach."""
        if self.cache is not None and self.state.resume_point:
            self.cache.save(self.state, self.clock())

    async def reboot(self, early: asyncio.Task[Boot] | None = None) -> int:
        """A fresh snapshot (at start, and when the stream's resume point is too old)."""
        assert self.api is not None
        boot = await (early if early is not None else self.api.boot())
        self.state.apply_boot(boot)
        self.state.out_of_reach_since = None  # fresh: the link says from now on
        self.tell(Booted())
        self._spawn(self._keep_cache_soon())
        return self.state.resume_point

    async def _keep_cache_soon(self) -> None:
        await asyncio.sleep(5)  # off the start-up path
        self.keep_cache()

    def reconnect(self) -> None:
        """Drop and re-open the event stream (or try to start again now)."""
        if self.stream is not None:
            self.stream.reconnect_now()
        self._wake.set()

    def receive(self, event_id: int | None, event: Event) -> None:
        """An event from the stream: folded into the state, the change told to the UI."""
        change = self.state.apply(event_id, event)
        if change.kind == "typing" and change.chat is not None:
            self.sender.someone_typing(change.chat, change.handle)
        elif change.kind == "message" and change.chat is not None:
            found = self.state.find(change.message_id)
            if found is not None:  # a message arrived: its sender is no longer typing it
                self.sender.stopped_typing(change.chat, found[1].sender)
        self.tell(Changed(change))
        if change.kind in ("contact", "names") and self.watching is not None and change.handle in self.watching:
            contact = self.state.contacts.get(change.handle)
            if contact is not None and presence.state(contact, self.clock()) == "active":
                self.watching.discard(change.handle)
                self.tell(WatchedActive(change.handle))

    def watch(self, handle: str) -> bool:
        """Be told when this person is active (again: not any more); whether they are watched now."""
        if self.watching is None:
            return False
        if handle in self.watching:
            self.watching.discard(handle)
            return False
        self.watching.add(handle)
        return True

    def _connection(self, state: str, detail: str) -> None:
        if state == "live":
            self.state.out_of_reach_since = None
        elif self.state.out_of_reach_since is None:
            self.state.out_of_reach_since = self.clock()
        self.tell(Connection(state, detail))
        if state == "live":
            self._spawn(self.sender.flush())

    # ---- activity -------------------------------------------------------------------
    def activity(self) -> None:
        """The user did something: ping the server, at most once a minute."""
        now = time.monotonic()
        if now - self._last_activity < ACTIVITY_EVERY or self.api is None:
            return
        self._last_activity = now
        self.pings += 1
        self._spawn(self._ping())

    async def _ping(self) -> None:
        if self.stream is not None and await self.stream.send_activity():
            return
        if self.api is not None:
            with contextlib.suppress(ApiError):
                await self.api.activity()

    # ---- reading --------------------------------------------------------------------
    async def load_history(self, chat: ChatKey, *, older: bool = False) -> None:
        """A page of history (older than what is known when `older`)."""
        if self.api is None:
            return
        before = self.state.history_cursor.get(chat) if older else None
        if older and before is None:
            return
        try:
            if chat.is_channel:
                page = await self.api.channel_history(chat.id, before=before)
            else:
                page = await self.api.history(chat.id, before=before)
        except ApiError as exc:
            self.tell(Notice(f"Could not load the history: {exc.message}", "warning"))
            return
        if self.state.add_history(chat, page) or older:
            self.tell(ChatUpdated(chat, older=older))

    # ---- changing messages --------------------------------------------------------
    async def edit(self, message_id: str, body: str) -> bool:
        """Change my message (the event shows it, everywhere); whether the server took it."""
        return await self._try("Could not edit", self.api.edit(message_id, body) if self.api else None)

    async def delete(self, message_id: str) -> bool:
        """Delete my message for everyone."""
        return await self._try("Could not delete", self.api.delete(message_id) if self.api else None)

    async def react(self, message_id: str, emoji: str) -> bool:
        """Add my reaction, or take it back if it is there."""
        found = self.state.find(message_id)
        mine = found is not None and self.state.me in found[1].reactions.get(emoji, [])
        work = self.api.react(message_id, emoji, add=not mine) if self.api else None
        return await self._try("Could not react", work)

    async def search(self, query: str, before: str | None = None) -> SearchPage | None:
        """Messages I may see that match (None: the search failed, and was said)."""
        if self.api is None:
            return None
        try:
            return await self.api.search(self.state.me, query, before)
        except ApiError as exc:
            self.tell(Notice(f"Could not search: {exc.message}", "warning"))
            return None

    async def _try(self, what: str, work: Coroutine[Any, Any, None] | None) -> bool:
        if work is None:
            return False
        try:
            await work
        except ApiError as exc:
            self.tell(Notice(f"{what}: {exc.message}", "warning"))
            return False
        return True

    async def whole_bodies(self, chat: ChatKey) -> None:
        """Fetch the whole body of every message of this chat that boot cut short."""
        if self.api is None:
            return
        changed = False
        for message in [m for m in self.state.chats.get(chat, []) if m.truncated]:
            try:
                message.body, message.truncated = await self.api.message_body(message.id), False
                changed = True
            except ApiError:
                return  # shown cut (and said so) until the next time the chat is opened
        if changed:
            self.tell(ChatUpdated(chat))

    async def mark_read(self, message_id: str) -> None:
        """Read up to this message (a failure is retried the next time it is looked at)."""
        if self.api is not None:
            with contextlib.suppress(ApiError):
                await self.api.mark_read(message_id)

    # ---- calls ----------------------------------------------------------------------
    async def call(self, handle: str) -> None:
        """Ring someone."""
        if self.api is None:
            return
        try:
            record = await self.api.call(handle)
        except ApiError as exc:
            self.tell(Notice(f"Cannot call: {exc.message}", "error"))
            return
        self.state.calls.setdefault(record.call_id, record)
        self.tell(StatusChanged())

    async def call_action(self, call_id: str, action: CallAction) -> None:
        """Answer, decline or end a call."""
        if self.api is not None:
            try:
                await self.api.call_action(call_id, action)
            except ApiError as exc:
                self.tell(Notice(f"Call: {exc.message}", "warning"))

    def calls_seen(self) -> None:
        """The calls list was looked at: missed calls are seen."""
        for call in self.state.calls.values():
            call.seen = True
        if self.seen_calls is not None:
            self.seen_calls.add(*self.state.calls)
        self.tell(StatusChanged())

    async def _missed_calls(self) -> list[CallRecord] | None:
        """My missed calls; None when they could not be had."""
        if self.api is None:
            return None
        try:
            return await self.api.calls(missed=True, limit=50)
        except ApiError:
            return None

    async def _apply_missed(self, asked: asyncio.Task[list[CallRecord] | None]) -> None:
        """Calls missed while the client was closed: said once, kept in the list until seen.
        `asked` is the request made with the snapshot; if it failed, they are asked for again."""
        missed = await asked
        if missed is None:
            missed = await self._missed_calls()
        if missed is None:
            return
        fresh = 0
        for record in missed:
            record.seen = self.seen_calls is not None and record.call_id in self.seen_calls
            fresh += not record.seen
            self.state.calls.setdefault(record.call_id, record)
        if fresh:
            self.tell(MissedWhileAway(fresh))
        self.tell(StatusChanged())

    # ---- my presence ----------------------------------------------------------------
    async def toggle_dnd(self) -> None:
        """Do not disturb on/off (alerts go quiet while on)."""
        if self.api is None:
            return
        me = self.state.contacts.get(self.state.me)
        target = None if me is not None and me.status == "dnd" else "dnd"
        try:
            await self.api.patch_me(self.state.me, status=target)
        except ApiError as exc:
            self.tell(Notice(f"Could not change your status: {exc.message}", "error"))
            return
        self.tell(Notice("Do not disturb is on: alerts are quiet." if target else "Do not disturb is off."))

    async def toggle_hide_last_seen(self) -> bool | None:
        """Hide my last seen from others, or show it again; the new setting (None: it failed)."""
        if self.api is None:
            return None
        try:
            me = await self.api.profile(self.state.me)
            hidden = (await self.api.patch_me(self.state.me, hide_last_seen=not me.hide_last_seen)).hide_last_seen
        except ApiError as exc:
            self.tell(Notice(exc.message, "error"))
            return None
        self.hidden_last_seen = hidden
        said = "Your last seen is now hidden from others." if hidden else "Others can see your last seen again."
        self.tell(Notice(said))
        return hidden
