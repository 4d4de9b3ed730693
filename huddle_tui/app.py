"""HuddleApp: the main screen, the services it owns, and what happens when events arrive."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Input

from huddle_tui import presence, untrusted
from huddle_tui.api import Api, ApiError, Offline, Unexpected
from huddle_tui.config import Config, data_dir
from huddle_tui.events import EventStream
from huddle_tui.messages import Booted, ConnectionChanged, StreamEvent
from huddle_tui.notify import Notifier
from huddle_tui.outbox import Outbox, Pending
from huddle_tui.screens.calls import CallsScreen, IncomingCall
from huddle_tui.screens.login import LoginScreen
from huddle_tui.store import ChatMessage, State
from huddle_tui.widgets.contact_list import ContactList
from huddle_tui.widgets.conversation import Composer, Conversation, MessageLog
from huddle_tui.widgets.footer import KeyFooter
from huddle_tui.widgets.status_bar import StatusBar

ACTIVITY_EVERY = 60.0  # seconds between activity pings while the user is busy
START_GC_PAUSE = 3.0  # seconds at most without garbage collection at start-up (see on_load)
TOAST_LIMIT = 1000  # characters of a toast (a message preview is cut far shorter)


class HuddleApp(App[None]):
    """Presence, chat with receipts, call alerts and OOO, in a terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "Huddle"
    BINDINGS = [
        Binding("ctrl+k", "call", "Call", id="call", priority=True),
        Binding("ctrl+o", "ooo", "My OOO", id="ooo", priority=True),
        Binding("ctrl+d", "toggle_dnd", "DnD", id="dnd", priority=True),
        Binding("ctrl+w", "watch", "Watch", id="watch", priority=True),
        Binding("ctrl+l", "calls", "Calls", id="calls", priority=True),
        Binding("ctrl+f", "filter", "Find", id="filter", priority=True),
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+c", "quit", "Quit", id="quit-c", show=False, priority=True),
    ]

    def __init__(
        self,
        config: Config,
        *,
        config_file: Path | None = None,
        data: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        notice: str = "",
    ) -> None:
        super().__init__()
        self.notice = notice  # what was wrong with the config file, said at start
        self._wake = asyncio.Event()  # the Reconnect command cuts a start-up retry's wait short
        self.clock = clock or (lambda: datetime.now(UTC))
        self.config = config
        self.config_file = config_file  # None: never written (demo, tests)
        self.data = data or data_dir()
        self.state = State()
        self.api: Api | None = None
        self._first_boot: asyncio.Task[dict[str, Any]] | None = None  # asked for in on_load
        self._gc_paused = False  # the collector is off while the first screen is built
        self._gc_froze = False  # what start-up built is frozen (see on_load)
        self.stream: EventStream | None = None
        self.outbox: Outbox | None = None
        self.notifier = Notifier(config.notify, self._write_terminal)
        self.alerts: list[tuple[str, str]] = []  # (kind, text) of every alert raised
        self.watching: set[str] = set()
        self.hidden_last_seen = False
        self.pings = 0  # activity pings sent (while the user types or moves; none when idle)
        self.ring_timeout = 30
        self._outbox_said: str | None = None
        self.my_call: str | None = None
        self._last_activity = 0.0
        self._seen_calls: set[str] = set()
        if config.theme in self.available_themes:
            self.theme = config.theme
        else:  # a hand-edited config must not stop the client
            self.notice = " ".join(filter(None, [notice, f"Unknown theme {config.theme!r}: using the default."]))

    # ---- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept as attributes: App.query_one searches the active screen, which is a modal
        # (an incoming call, the OOO form) whenever one is open.
        self.status_bar = StatusBar(id="status")
        self.filter_input = Input(placeholder="filter: type a name", id="filter")
        self.contacts = ContactList(self.state, self.clock, id="contacts")
        self.conversation = Conversation(self.state, self.clock, id="conversation")
        yield self.status_bar
        with Horizontal(id="main"):
            with Vertical(id="people"):
                yield self.filter_input
                yield self.contacts
            yield self.conversation
        yield KeyFooter()

    def on_load(self) -> None:
        """Ask for the snapshot while the screen is still being built: the server answers while
        the widgets are composed and styled, instead of after (bench C1). start_session takes it.

        The garbage collector waits until the first screen is drawn: start-up creates tens of
        thousands of objects that all stay alive (widgets, styles, a row per contact), and
        collecting them as they come cost ~50 ms of start-up with 2,000 contacts (bench C1).
        When it resumes (after the first contact list is painted, after START_GC_PAUSE seconds
        without a server, or when the app closes, whichever comes first) what exists is frozen
        (gc.freeze: later collections skip it, as they would have found it alive), and thawed
        again when the app closes."""
        if gc.isenabled():
            gc.disable()
            self._gc_paused = True
            self.set_timer(START_GC_PAUSE, self._resume_gc)
        if self.config.token:
            self.api = Api(self.config.server, self.config.token)
            self._first_boot = asyncio.create_task(self.api.boot())

    def _resume_gc(self) -> None:
        """Collect again, leaving out what start-up built."""
        if self._gc_paused:
            self._gc_paused = False
            gc.freeze()
            self._gc_froze = True
            gc.enable()

    def on_unmount(self) -> None:
        """An early snapshot nobody took (the app closed first) is dropped; the collector resumes."""
        self._resume_gc()
        if self._gc_froze:
            self._gc_froze = False
            gc.unfreeze()
        if self._first_boot is not None:
            self._first_boot.cancel()

    def on_mount(self) -> None:
        """Sign in if needed, else start."""
        self.conversation.stale_hours = self.config.stale_hours
        if self.is_headless:  # tests, snapshots and screenshots: no blinking cursors
            self.filter_input.cursor_blink = False
            self.conversation.composer.cursor_blink = False
        self.set_interval(1.0, self._tick_call)
        if self.config.token:
            self.start_session()
            if self.notice:
                self.notify(self.notice, title="Settings", severity="warning", timeout=30)
        else:
            self.push_screen(LoginScreen(self.config.server, self.config.user, self.notice))

    # ---- session ------------------------------------------------------------------
    @on(LoginScreen.Submitted)
    def sign_in(self, event: LoginScreen.Submitted) -> None:
        """Sign in with what was typed."""
        self._login(event.credentials.server, event.credentials.user, event.credentials.password)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _login(self, server: str, user: str, password: str) -> None:
        api = Api(server)
        try:
            body = await api.login(user, password)
        except Offline:
            await api.close()
            self._login_error(f"Cannot reach {server}. Is the server running? Check the address and try again.")
            return
        except ApiError as exc:
            await api.close()
            reason = "Wrong user or password." if exc.status == 401 else exc.sentence
            self._login_error(reason)
            return
        self.config.server, self.config.user, self.config.token = server, body["user"]["user"], api.token or ""
        self.save_config()
        await api.close()
        if isinstance(self.screen, LoginScreen):
            self.pop_screen()
        self.start_session()

    def _login_error(self, text: str) -> None:
        if isinstance(self.screen, LoginScreen):
            self.screen.show_error(text)

    def save_config(self) -> None:
        """Remember the server, user and token (never in demo or test runs)."""
        if self.config_file is None:
            return
        try:
            self.config.save(self.config_file)
        except OSError as exc:
            self.notify(f"Could not save your settings to {self.config_file}: {exc.strerror or exc}", severity="error")

    @work(exclusive=True, group="session", exit_on_error=False)
    async def start_session(self) -> None:
        """Boot, then keep the event stream alive."""
        early, self._first_boot = self._first_boot, None
        if early is None or self.api is None:
            if self.api is not None:
                await self.api.close()
            self.api = Api(self.config.server, self.config.token)
        self.outbox = Outbox(self.data, self.config.server, self.config.user)
        self._seen_calls = self._load_seen()
        self._activity()  # opening the client is activity
        # Asked for with the snapshot and applied after it, while the stream connects: nothing
        # waits for it (bench C1).
        missed = asyncio.create_task(self._missed_calls())
        try:
            await self._boot_and_stream(early, missed)
        finally:
            missed.cancel()

    async def _boot_and_stream(
        self, early: asyncio.Task[dict[str, Any]] | None, missed: asyncio.Task[list[dict[str, Any]] | None]
    ) -> None:
        """Boot (retrying while the server is away), then keep the event stream alive."""
        failures, said = 0, ""
        while True:
            try:
                await self.reboot(early)
                break
            except ApiError as exc:
                early = None
                if exc.unauthorized:
                    self.signed_out("Your sign-in is no longer valid. Sign in again.")
                    return
                failures += 1
                unexpected = "⚠ unexpected answer" if isinstance(exc, Unexpected) else "⚠ server error"
                self._connection("offline" if isinstance(exc, Offline) else unexpected, "")
                if exc.message != said:  # once per reason, not at every retry
                    said = exc.message
                    self.notify(f"{exc.sentence} Retrying…", severity="warning", timeout=10)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(30.0, 2.0 ** (failures - 1)))
        calls = asyncio.create_task(self.fetch_missed_calls(missed))
        self.flush_outbox()
        self.stream = EventStream(
            self.config.server,
            self.config.token,
            resume_point=self.state.resume_point,
            heartbeat=self.state.heartbeat,
            on_event=lambda i, d: self.post_message(StreamEvent(i, d)),
            on_state=lambda s, d: self.post_message(ConnectionChanged(s, d)),
            on_gone=self.reboot,
            on_unauthorized=lambda: self.call_later(self.signed_out, "Signed out by the server. Sign in again."),
            on_garbage=self._garbage,
        )
        try:
            await self.stream.run()
        finally:
            calls.cancel()

    async def reboot(self, early: asyncio.Task[dict[str, Any]] | None = None) -> int:
        """A fresh snapshot (at start, and when the stream's resume point is too old); `early`
        is the one already asked for at start-up."""
        assert self.api is not None
        boot = await (early if early is not None else self.api.boot())
        pending = [m for ms in self.state.chats.values() for m in ms if m.pending]
        try:
            self.state.apply_boot(boot)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Unexpected(f"boot: {exc!r}") from exc
        for message in pending:
            self.state.chats.setdefault(message.chat_key(self.state.me), []).append(message)
        self.ring_timeout = int(boot.get("ring_timeout", 30))
        self.post_message(Booted())
        return self.state.resume_point

    def on_booted(self, _: Booted) -> None:
        """Everything may have changed: draw the list now (start-up waits for nothing else)."""
        self.contacts.rebuild_soon()
        self.contacts.flush()
        self.conversation.show(self.conversation.key)
        self._update_status()
        self.call_after_refresh(self._resume_gc)

    def signed_out(self, why: str) -> None:
        """Forget the token and ask to sign in again."""
        self.config.token = ""
        self.save_config()
        self.workers.cancel_group(self, "session")
        self.stream = None
        if not isinstance(self.screen, LoginScreen):
            self.push_screen(LoginScreen(self.config.server, self.config.user, why))

    def on_connection_changed(self, event: ConnectionChanged) -> None:
        """The link came back (send what waited) or dropped."""
        self._connection(event.state, event.detail)
        if event.state == "live":
            self.flush_outbox()

    def _connection(self, state: str, detail: str) -> None:
        self.status_bar.connection = state
        self.status_bar.connection_detail = detail
        self.status_bar.show()

    def _update_status(self) -> None:
        bar = self.status_bar
        bar.me = self.state.me
        me = self.state.contacts.get(self.state.me)
        bar.my_status = me.status if me else ""
        bar.missed = len(self.state.unseen_missed())
        bar.pending = len(self.outbox.items) if self.outbox else 0
        bar.show()

    # ---- events -------------------------------------------------------------------
    def on_stream_event(self, event: StreamEvent) -> None:
        """Fold an event into the state and touch only what it changed."""
        try:
            change = self.state.apply(event.event_id, event.data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a shape events.check_event let through
            self._garbage(
                f"a {event.data.get('type')} {event.data.get('event')} event it cannot use ({exc!r}); skipped it"
            )
            return
        open_key = self.conversation.key
        if change.kind == "names":  # someone now looks like someone else, or no longer does
            self.contacts.rebuild_soon()
            self.conversation.refresh_header()
            self._check_watch(change.key)
        elif change.kind == "contact":
            self.contacts.mark(change.key)
            if change.key == open_key:
                self.conversation.refresh_header()
            if change.key == self.state.me:
                self._update_status()
            self._check_watch(change.key)
        elif change.kind == "message":
            self._message_arrived(change.key, change.data["id"], change.data["incoming"])
        elif change.kind == "receipt":
            self.contacts.mark(change.key)
            if change.key == open_key:
                self.conversation.refresh_receipts()
        elif change.kind == "call":
            self._call_changed(change.key)
        elif change.kind == "channel":
            self.contacts.rebuild_soon()
        elif change.kind == "deleted":
            self.contacts.mark(change.key)
            if change.key == open_key:
                self.conversation.render_log()

    def _garbage(self, why: str) -> None:
        self.notify(f"The server sent something unexpected on the event stream: {why}.", severity="warning")

    def _message_arrived(self, key: str, message_id: str, incoming: bool) -> None:
        self.contacts.mark(key)
        chat = self.state.chats.get(key, [])
        message = next((m for m in chat if m.id == message_id), None)
        if message is None:
            return
        replaced = not incoming and self._drop_pending_twin(key, message)
        if key == self.conversation.key:
            if replaced:
                self.conversation.render_log()  # the pending row becomes the real one
            else:
                self.conversation.add_message(message)
            self.mark_visible_read()
        if incoming and (key != self.conversation.key or not self.app_focus):
            where = "" if message.channel is None else f" in {self.conversation.title_of(key)}"
            preview = untrusted.line(message.body, limit=80)
            text = f"{self.state.name_of(message.sender)}{where}: {preview}"
            self.alert("message", text, severity="information", loud=True)

    def _drop_pending_twin(self, key: str, sent: ChatMessage) -> bool:
        """My message came back as an event before the send's answer: the pending copy goes."""
        chat = self.state.chats.get(key, [])
        twin = next(
            (m for m in chat if m.pending and m.body == sent.body and (m.to, m.channel) == (sent.to, sent.channel)),
            None,
        )
        if twin is None:
            return False
        chat.remove(twin)
        return True

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast, always plain text through the door: names, messages and errors come from other
        people and the server (`markup` is accepted for Textual's callers and ignored)."""
        shown, heading = untrusted.line(message, limit=TOAST_LIMIT), untrusted.line(title)
        super().notify(shown, title=heading, severity=severity, timeout=timeout, markup=False)

    def alert(self, kind: str, text: str, *, severity: str = "warning", loud: bool = False) -> None:
        """A toast; with `loud`, also the bell and a desktop notification (not while dnd)."""
        self.alerts.append((kind, text))
        self.notify(text, severity=severity, timeout=8 if loud else 5)  # type: ignore[arg-type]
        me = self.state.contacts.get(self.state.me)
        quiet = me is not None and me.status == "dnd" and kind != "no_answer"
        if loud and not quiet and self.config.notify != "off":
            self.bell()
            if not self.app_focus or kind in ("no_answer", "missed_call", "watch"):
                self.notifier.desktop("Huddle", text)

    def _write_terminal(self, text: str) -> None:
        # The same channel App.bell() uses: the driver's output to the terminal.
        driver = getattr(self, "_driver", None)
        if driver is not None and not self.is_headless:
            driver.write(text)

    # ---- sending ------------------------------------------------------------------
    @on(Composer.Submitted)
    def send_typed(self, event: Composer.Submitted) -> None:
        """Keep the message in the outbox first, then try to send it."""
        key = self.conversation.key
        if key is None or self.outbox is None:
            return
        item = self.outbox.add(key, event.text)
        if self.outbox.problem and self.outbox.problem != self._outbox_said:
            self._outbox_said = self.outbox.problem  # once per reason
            self.notify(f"{self.outbox.problem}. Sending goes on.", severity="warning", timeout=15)
        channel = key[1:] if key.startswith("#") else None
        message = ChatMessage(
            id=f"pending:{item.key}",
            sender=self.state.me,
            body=item.body,
            at=self.clock(),
            to=None if channel else key,
            channel=channel,
            pending=True,
        )
        self.state.chats.setdefault(key, []).append(message)
        self.conversation.add_message(message)
        self._update_status()
        self.flush_outbox()

    @work(exclusive=True, group="outbox", exit_on_error=False)
    async def flush_outbox(self) -> None:
        """Send what waits, in order, each with its Idempotency-Key (a retry never doubles it)."""
        if self.outbox is None or self.api is None:
            return
        for item in list(self.outbox.items):
            try:
                if item.to.startswith("#"):
                    answer = await self.api.send_channel(item.to[1:], item.body, item.key)
                    answer["message_id"] = answer["id"]
                else:
                    answer = await self.api.send(item.to, item.body, item.key)
            except (Offline, Unexpected):
                self._update_status()
                return  # try again when the link is back (the Idempotency-Key makes that safe)
            except ApiError as exc:
                self.outbox.done(item.key)
                self._unsent(item, exc.message)
                continue
            self.outbox.done(item.key)
            self._sent(item, answer["message_id"])
        self._update_status()

    def _sent(self, item: Pending, message_id: str) -> None:
        chat = self.state.chats.get(item.to, [])
        pending = next((m for m in chat if m.id == f"pending:{item.key}"), None)
        if pending is not None:
            if any(m.id == message_id for m in chat):
                chat.remove(pending)  # the event came first
            else:
                pending.id, pending.pending = message_id, False
            if item.to == self.conversation.key:
                self.conversation.render_log()

    def _unsent(self, item: Pending, why: str) -> None:
        chat = self.state.chats.get(item.to, [])
        chat[:] = [m for m in chat if m.id != f"pending:{item.key}"]
        if item.to == self.conversation.key:
            self.conversation.render_log()
        self.notify(f"Not sent to {self.conversation.title_of(item.to)}: {why}", severity="error")

    # ---- reading ------------------------------------------------------------------
    @on(ContactList.Chosen)
    def open_chat(self, event: ContactList.Chosen) -> None:
        """Show a conversation; load its history if none is known yet."""
        self.conversation.show(event.key)
        self.conversation.composer.focus()
        if event.key not in self.state.history_cursor:
            self.load_history(event.key)
        self.mark_visible_read()

    @work(group="history", exit_on_error=False)
    async def load_history(self, key: str, older: bool = False) -> None:
        """A page of history (older than what is known when `older`)."""
        if self.api is None:
            return
        before = self.state.history_cursor.get(key) if older else None
        if older and before is None:
            return
        channel = key.startswith("#")
        try:
            if channel:
                page = await self.api.channel_history(key[1:], before=before)
            else:
                page = await self.api.history(key, before=before)
        except ApiError as exc:
            self.notify(f"Could not load the history: {exc.message}", severity="warning")
            return
        add = self.state.add_channel_history if channel else self.state.add_history
        added = add(key, page["messages"], page.get("next_before"))
        if key == self.conversation.key and (added or older):
            self.conversation.render_log()
            self.mark_visible_read()

    def mark_visible_read(self) -> None:
        """Incoming messages on screen in the focused conversation are read, not before."""
        # After the next refresh: rows just mounted have no place on screen yet.
        self.call_after_refresh(self._mark_visible_read)

    def _mark_visible_read(self) -> None:
        key = self.conversation.key
        if key is None or key.startswith("#") or not self.app_focus or self.api is None:
            return
        newest = self.conversation.newest_visible_unread()
        if newest is not None:
            self._mark_read(newest)

    @work(group="read", exit_on_error=False)
    async def _mark_read(self, message_id: str) -> None:
        if self.api is not None:
            # A failure is retried the next time the message is looked at.
            with contextlib.suppress(ApiError):
                await self.api.mark_read(message_id)

    @on(Conversation.Rendered)
    def rendered(self, _: Conversation.Rendered) -> None:
        """New rows are on screen: they may be read now; a log too short to scroll fetches older rows."""
        self.mark_visible_read()
        key = self.conversation.key
        if key and self.state.history_cursor.get(key) and self.conversation.log_view.max_scroll_y == 0:
            self.load_history(key, older=True)

    @on(MessageLog.Scrolled)
    def scrolled(self, event: MessageLog.Scrolled) -> None:
        """Scrolling may reveal unread messages; the top asks for older ones."""
        self.mark_visible_read()
        key = self.conversation.key
        if event.at_top and key and self.state.history_cursor.get(key):
            self.load_history(key, older=True)

    def on_app_focus(self, _: events.AppFocus) -> None:
        """Back in the terminal: what is on screen is now read."""
        self.mark_visible_read()

    # ---- calls --------------------------------------------------------------------
    def _call_changed(self, call_id: str) -> None:
        call = self.state.calls[call_id]
        me = self.state.me
        other = call.callee if call.caller == me else call.caller
        name = self.state.name_of(other)
        if call.caller == me:
            if call.status == "no_answer":
                self.alert("no_answer", f"☎ {name} didn't answer", severity="error", loud=True)
                self.bell()
            elif call.status == "declined":
                self.alert("declined", f"☎ {name} declined the call")
            elif call.status == "answered":
                self.notify(f"☎ {name} answered")
            self.my_call = call_id if call.status in ("ringing", "answered") else None
        elif call.status == "ringing":
            self.push_screen(IncomingCall(call_id, name), lambda answer: self._answer(call_id, answer))
        else:
            if isinstance(self.screen, IncomingCall) and self.screen.call_id == call_id:
                self.screen.dismiss("gone")
            if call.status == "no_answer":
                self.alert("missed_call", f"☎ Missed call from {name}", severity="error", loud=True)
        self._tick_call()
        self._update_status()
        if other == self.conversation.key:
            self.conversation.render_log()

    def _answer(self, call_id: str, answer: str | None) -> None:
        if answer in ("answer", "decline"):
            self._call_action(call_id, answer)

    @work(group="calls", exit_on_error=False)
    async def _call_action(self, call_id: str, action: str) -> None:
        if self.api is not None:
            try:
                await self.api.call_action(call_id, action)
            except ApiError as exc:
                self.notify(f"Call: {exc.message}", severity="warning")

    def _tick_call(self) -> None:
        """The ringing countdown in the conversation header."""
        call = self.state.calls.get(self.my_call or "")
        text = ""
        if call is not None and call.started_at is not None:
            elapsed = (self.clock() - call.started_at).total_seconds()
            name = self.state.name_of(call.callee)
            if call.status == "ringing":
                text = f"☎ ringing {name}… {max(0, int(self.ring_timeout - elapsed))}s"
            elif call.status == "answered":
                text = f"☎ on a call with {name} (ctrl+k hangs up)"
        if text != self.conversation.call_status:
            self.conversation.call_status = text
            self.conversation.refresh_header()

    async def _missed_calls(self) -> list[dict[str, Any]] | None:
        """My missed calls; None when they could not be had."""
        if self.api is None:
            return None
        try:
            return await self.api.calls(missed=True, limit=50)
        except ApiError:
            return None

    async def fetch_missed_calls(self, asked: asyncio.Task[list[dict[str, Any]] | None]) -> None:
        """Calls missed while the client was closed: alert once, keep them in the list until seen.
        `asked` is the request made with the snapshot; if it failed, they are asked for again."""
        missed = await asked
        if missed is None:
            missed = await self._missed_calls()
        if missed is None:
            return
        fresh = 0
        for item in missed:
            record = self.state.call_from(item)
            record.seen = record.call_id in self._seen_calls
            fresh += not record.seen
            self.state.calls.setdefault(record.call_id, record)
        if fresh:
            plural = "s" if fresh > 1 else ""
            self.alert(
                "missed_call", f"☎ You missed {fresh} call{plural} while you were away", severity="error", loud=True
            )
        self._update_status()

    def _seen_path(self) -> Path:
        assert self.outbox is not None
        return self.outbox.path.with_name(self.outbox.path.name.replace("outbox-", "calls-seen-"))

    def _load_seen(self) -> set[str]:
        try:
            return set(json.loads(self._seen_path().read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def _save_seen(self) -> None:
        path = self._seen_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(sorted(self._seen_calls)[-500:]), "utf-8")
        except OSError:
            pass  # calls seen are shown as seen for this run; at worst a badge returns next start

    # ---- actions ------------------------------------------------------------------
    def action_call(self) -> None:
        """Call the selected contact (or hang up the call in progress)."""
        if self.my_call is not None:
            call = self.state.calls.get(self.my_call)
            if call is not None and call.status in ("ringing", "answered"):
                self._call_action(self.my_call, "end")
                return
        key = self.conversation.key or self.contacts.selected_key
        if key is None or key.startswith(("#", "team:")):
            self.notify("Pick a person to call first.", severity="warning")
            return
        self._start_call(key)

    @work(group="calls", exit_on_error=False)
    async def _start_call(self, handle: str) -> None:
        if self.api is None:
            return
        try:
            answer = await self.api.call(handle)
        except ApiError as exc:
            self.notify(f"Cannot call: {exc.message}", severity="error")
            return
        record = self.state.call_from(answer)
        self.state.calls.setdefault(record.call_id, record)
        self.my_call = record.call_id
        self._tick_call()

    def action_calls(self) -> None:
        """The calls list; looking at it marks missed calls seen."""
        self.push_screen(CallsScreen(self.state))
        for call in self.state.calls.values():
            call.seen = True
            self._seen_calls.add(call.call_id)
        self._save_seen()
        self._update_status()

    @work(group="presence", exit_on_error=False)
    async def action_toggle_dnd(self) -> None:
        """Do not disturb on/off (alerts go quiet while on)."""
        if self.api is None:
            return
        me = self.state.contacts.get(self.state.me)
        target = None if me is not None and me.status == "dnd" else "dnd"
        try:
            await self.api.patch_me(self.state.me, status=target)
        except ApiError as exc:
            self.notify(f"Could not change your status: {exc.message}", severity="error")
            return
        self.notify("Do not disturb is on: alerts are quiet." if target else "Do not disturb is off.")

    def action_watch(self) -> None:
        """Tell me when the selected contact becomes active."""
        key = self.conversation.key or self.contacts.selected_key
        contact = self.state.contacts.get(key or "")
        if contact is None or contact.handle == self.state.me:
            self.notify("Pick a person to watch first.", severity="warning")
            return
        if contact.handle in self.watching:
            self.watching.discard(contact.handle)
            self.notify(f"Stopped watching {contact.name}.")
        else:
            self.watching.add(contact.handle)
            self.notify(f"Watching {contact.name}: you'll be told when they're active.")

    def _check_watch(self, handle: str) -> None:
        contact = self.state.contacts.get(handle)
        if handle in self.watching and contact and presence.state(contact, self.clock()) == "active":
            self.watching.discard(handle)
            self.alert("watch", f"● {contact.name} is active now", severity="information", loud=True)

    def action_ooo(self) -> None:
        """My out-of-office entries."""
        from huddle_tui.screens.ooo import OooScreen

        if self.api is not None:
            self.push_screen(OooScreen(self.api, self.state.me))

    def action_filter(self) -> None:
        """Jump to the contact filter."""
        self.filter_input.focus()

    def action_help(self) -> None:
        """Show every key."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    @work(exclusive=True, group="login", exit_on_error=False)
    async def action_sign_out(self) -> None:
        """Revoke the token and forget it."""
        if self.api is not None:
            with contextlib.suppress(ApiError):
                await self.api.logout()
        self.signed_out("Signed out.")

    @on(Input.Changed, "#filter")
    def filter_contacts(self, event: Input.Changed) -> None:
        """Type to filter the contacts."""
        self.contacts.filter_text = event.value.strip()
        self.contacts.rebuild_soon()

    @on(Input.Submitted, "#filter")
    def filter_done(self, _: Input.Submitted) -> None:
        """Enter in the filter goes to the list, on the first match."""
        self.contacts.highlight_first()
        self.contacts.focus()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action is in the command palette too."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Call", "Call the selected person (again: hang up)", self.action_call)
        yield SystemCommand("Calls", "Show calls; marks missed calls seen", self.action_calls)
        yield SystemCommand("Do not disturb", "Toggle dnd: alerts go quiet", self.action_toggle_dnd)
        yield SystemCommand("My out of office", "Create, edit and delete your OOO entries", self.action_ooo)
        yield SystemCommand("Watch", "Tell me when the selected person is active", self.action_watch)
        yield SystemCommand(
            "Hide or show my last seen",
            "Toggle whether others see when you were last active",
            self.toggle_hide_last_seen,
        )
        yield SystemCommand("How others see me", "Your presence as your teammates see it", self.how_others_see_me)
        yield SystemCommand("Reconnect", "Reconnect the event stream now", self.reconnect)
        yield SystemCommand("Sign out", "Revoke this session's token", self.action_sign_out)

    @work(group="presence", exit_on_error=False)
    async def toggle_hide_last_seen(self) -> None:
        """Hide my last_seen from others, or show it again."""
        if self.api is None:
            return
        try:
            me = await self.api.request("GET", f"/api/v2/users/{self.state.me}")
            hidden = not bool(me.get("hide_last_seen"))
            await self.api.patch_me(self.state.me, hide_last_seen=hidden)
        except ApiError as exc:
            self.notify(exc.message, severity="error")
            return
        self.hidden_last_seen = hidden
        self.notify("Your last seen is now hidden from others." if hidden else "Others can see your last seen again.")

    def how_others_see_me(self) -> None:
        """What teammates see of me: status, and last seen unless hidden."""
        me = self.state.contacts.get(self.state.me)
        if me is None:
            return
        word = presence.state(me, self.clock())
        seen = "last seen hidden" if self.hidden_last_seen else presence.sentence(me, self.clock())
        ooo = f" · {presence.ooo_until(me.ooo)}" if me.ooo else ""
        self.notify(f"Others see you as {presence.GLYPHS[word]} {word} · {seen}{ooo}", title="How others see you")

    def reconnect(self) -> None:
        """Drop and re-open the event stream."""
        if self.stream is not None:
            self.stream.reconnect_now()
        self._wake.set()  # a session still trying to start tries again now

    def watch_theme(self, theme: str) -> None:
        """Remember the theme."""
        if self.config.theme != theme:
            self.config.theme = theme
            self.save_config()

    # ---- activity -----------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        """Keys and mouse clicks mean the user is here: ping at most once a minute."""
        if isinstance(event, (events.Key, events.MouseDown)):
            self._activity()
        await super().on_event(event)

    def _activity(self) -> None:
        now = time.monotonic()
        if now - self._last_activity < ACTIVITY_EVERY or self.api is None:
            return
        self._last_activity = now
        self._ping()

    @work(group="activity", exit_on_error=False)
    async def _ping(self) -> None:
        self.pings += 1
        if self.stream is not None and await self.stream.send_activity():
            return
        if self.api is not None:
            with contextlib.suppress(ApiError):
                await self.api.activity()


def make_app(
    config: Config,
    *,
    config_file: Path | None = None,
    data: Path | None = None,
    clock: Callable[[], datetime] | None = None,
    notice: str = "",
) -> HuddleApp:
    """The one factory the CLI, the tests and the screenshot script use."""
    return HuddleApp(config, config_file=config_file, data=data, clock=clock, notice=notice)
