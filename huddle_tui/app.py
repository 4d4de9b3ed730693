"""HuddleApp: the session, the screens, the keys every screen has, and how alerts reach a person."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import Notification, SeverityLevel
from textual.screen import Screen

from huddle_tui import presence, untrusted
from huddle_tui.config import Config, data_dir
from huddle_tui.errors import ApiError, Offline
from huddle_tui.notify import Notifier
from huddle_tui.screens.login import LoginScreen
from huddle_tui.screens.main import MainScreen
from huddle_tui.session import Session
from huddle_tui.updates import Booted, Changed, Notice, SignedOut, Update

START_GC_PAUSE = 3.0  # seconds at most without garbage collection at start-up (see on_load)
TOAST_LIMIT = 1000  # characters of a toast (a message preview is cut far shorter)


class SessionUpdate(Message):
    """The session says something changed."""

    def __init__(self, update: Update) -> None:
        super().__init__()
        self.update = update


class HuddleApp(App[None]):
    """Presence, chat with receipts, call alerts and OOO, in a terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "Huddle"
    BINDINGS = [
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
        self.config = config
        self.config_file = config_file  # None: never written (demo, tests)
        tell = self._tell
        self.session = Session(config, data or data_dir(), tell, save_config=self.save_config, clock=clock)
        self.notifier = Notifier(config.notify, self._write_terminal)
        self.alerts: list[tuple[str, str]] = []  # (kind, text) of every alert raised
        self._group_toasts: dict[str, tuple[Notification, int]] = {}  # the toast showing for a chat
        self._gc_paused = False  # the collector is off while the first screen is built
        self._gc_froze = False  # what start-up built is frozen (see on_load)
        if config.theme in self.available_themes:
            self.theme = config.theme
        else:  # a hand-edited config must not stop the client
            self.notice = " ".join(filter(None, [notice, f"Unknown theme {config.theme!r}: using the default."]))

        self.main = MainScreen(self.session, config.stale_hours)

    def get_default_screen(self) -> Screen[None]:
        """The main screen (contacts, chat, status line) is the one under every other."""
        return self.main

    # ---- start and stop -----------------------------------------------------------
    def on_load(self) -> None:
        """Ask for the snapshot while the screen is still being built (Session.prefetch).

        The garbage collector waits until the first screen is drawn: start-up creates tens of
        thousands of objects that all stay alive (widgets, styles, a row per contact), and
        collecting them as they come is slow with thousands of contacts (bench C1). When it
        resumes (after the first contact list is painted, after START_GC_PAUSE seconds without
        a server, or when the app closes) what exists is frozen (gc.freeze: later collections
        skip it, as they would have found it alive), and thawed again when the app closes."""
        if gc.isenabled():
            gc.disable()
            self._gc_paused = True
            self.set_timer(START_GC_PAUSE, self._resume_gc)
        self.session.prefetch()

    def _resume_gc(self) -> None:
        if self._gc_paused:
            self._gc_paused = False
            gc.freeze()
            self._gc_froze = True
            gc.enable()

    async def on_unmount(self) -> None:
        """Connections close; the collector resumes."""
        self._resume_gc()
        if self._gc_froze:
            self._gc_froze = False
            gc.unfreeze()
        await self.session.close()

    def on_mount(self) -> None:
        """Sign in if needed, else start."""
        if self.session.signed_in:
            self.start_session()
            if self.notice:
                self.notify(self.notice, title="Settings", severity="warning", timeout=30)
        else:
            self.push_screen(LoginScreen(self.config.server, self.config.user, self.notice))

    @work(exclusive=True, group="session", exit_on_error=False)
    async def start_session(self) -> None:
        """Boot, then keep the event stream alive (until signed out or closed)."""
        await self.session.run()

    @on(LoginScreen.Submitted)
    def sign_in(self, event: LoginScreen.Submitted) -> None:
        """Sign in with what was typed."""
        self._login(event.credentials.server, event.credentials.user, event.credentials.password)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _login(self, server: str, user: str, password: str) -> None:
        try:
            await self.session.sign_in(server, user, password)
        except Offline:
            self._login_error(f"Cannot reach {server}. Is the server running? Check the address and try again.")
            return
        except ApiError as exc:
            self._login_error("Wrong user or password." if exc.status == 401 else exc.sentence)
            return
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

    def _tell(self, update: Update) -> None:
        self.post_message(SessionUpdate(update))

    def on_session_update(self, message: SessionUpdate) -> None:
        """What the session says goes to the main screen (or ends the session)."""
        update = message.update
        match update:
            case SignedOut():
                self.workers.cancel_group(self, "session")
                if not isinstance(self.screen, LoginScreen):
                    self.push_screen(LoginScreen(self.config.server, self.config.user, update.why))
            case Notice():
                self.notify(update.text, severity=update.severity, timeout=update.timeout)
            case Changed():
                self.main.changed(update.change)
            case _:
                self.main.apply(update)
                if isinstance(update, Booted):
                    self.call_after_refresh(self._resume_gc)

    # ---- alerts -------------------------------------------------------------------
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

    def alert(
        self,
        kind: str,
        text: str,
        *,
        severity: SeverityLevel = "warning",
        loud: bool = False,
        toast: bool = True,
        group: str | None = None,
    ) -> None:
        """A toast (unless `toast` is off); with `loud`, also the bell and a desktop notification
        (not while do-not-disturb, except for my own call nobody answered). Alerts of one `group`
        (a chat) coming while its toast shows replace it, counted, and ring once."""
        self.alerts.append((kind, text))
        burst = False
        if toast:
            burst = self._toast(text, severity, 8 if loud else 5, group)
        me = self.session.state.contacts.get(self.session.state.me)
        quiet = me is not None and me.status == "dnd" and kind != "no_answer"
        if loud and not quiet and not burst and self.config.notify != "off":
            self.bell()
            if not self.app_focus or kind in ("no_answer", "missed_call", "watch", "ringing"):
                self.notifier.desktop("Huddle", text)

    def _toast(self, text: str, severity: SeverityLevel, timeout: float, group: str | None) -> bool:
        """Show a toast; one of a group still showing is replaced by this one with a count (a burst
        of messages is one toast, not a stack over the screen). Whether it was part of a burst.
        Uses Textual's notification list itself (_notifications, _unnotify, _refresh_notifications):
        a posted Notify arrives too late for the next message of a burst to find it."""
        previous = self._group_toasts.get(group) if group else None
        count = 1
        if previous is not None and previous[0] in self._notifications and not previous[0].has_expired:
            count = previous[1] + 1
            self._unnotify(previous[0])
        shown = untrusted.line(text, limit=TOAST_LIMIT)
        if count > 1:
            shown = f"{count} new · {shown}"
        notification = Notification(shown, "", severity, timeout, markup=False)
        # Added at once (what App.notify's message does later): the next of a burst finds it.
        self._notifications.add(notification)
        self._refresh_notifications()
        if group:
            self._group_toasts[group] = (notification, count)
        return count > 1

    def _write_terminal(self, text: str) -> None:
        # The same channel App.bell() uses: the driver's output to the terminal.
        driver = getattr(self, "_driver", None)
        if driver is not None and not self.is_headless:
            driver.write(text)

    # ---- keys and commands --------------------------------------------------------
    def action_help(self) -> None:
        """Keys by task and what the symbols mean."""
        from huddle_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @work(exclusive=True, group="login", exit_on_error=False)
    async def action_sign_out(self) -> None:
        """Revoke the token and forget it."""
        await self.session.sign_out()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action is in the command palette too."""
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Call", "Call the selected person (again: hang up)", main.action_call)
        yield SystemCommand("Calls", "Show calls; marks missed calls seen", main.action_calls)
        yield SystemCommand("Do not disturb", "Toggle dnd: alerts go quiet", main.action_toggle_dnd)
        yield SystemCommand("My out of office", "Create, edit and delete your OOO entries", main.action_ooo)
        yield SystemCommand("Watch", "Tell me when the selected person is active", main.action_watch)
        yield SystemCommand("Search messages", "Find old messages in everything you can see", main.action_search)
        yield SystemCommand("Next unread", "Open the next chat with unread messages", main.action_next_unread)
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
        await self.session.toggle_hide_last_seen()

    def how_others_see_me(self) -> None:
        """What teammates see of me: status, and last seen unless hidden."""
        state = self.session.state
        me = state.contacts.get(state.me)
        if me is None:
            return
        now = self.session.clock()
        word = presence.state(me, now)
        seen = "last seen hidden" if self.session.hidden_last_seen else presence.sentence(me, now)
        ooo = f" · {presence.ooo_until(me.ooo)}" if me.ooo else ""
        self.notify(f"Others see you as {presence.GLYPHS[word]} {word} · {seen}{ooo}", title="How others see you")

    def reconnect(self) -> None:
        """Drop and re-open the event stream (or try to start again now)."""
        self.session.reconnect()

    def watch_theme(self, theme: str) -> None:
        """Remember the theme."""
        if self.config.theme != theme:
            self.config.theme = theme
            self.save_config()

    async def on_event(self, event: events.Event) -> None:
        """Keys and mouse clicks mean the user is here (the session pings at most once a minute)."""
        if isinstance(event, (events.Key, events.MouseDown)):
            self.session.activity()
        await super().on_event(event)


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
