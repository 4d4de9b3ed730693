"""The main screen: who is around, the open chat, the status line; the keys of daily work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input

from huddle_tui import presence, untrusted
from huddle_tui.records import ChatKey
from huddle_tui.screens.call_control import CallControl
from huddle_tui.screens.message_actions import MessageActions
from huddle_tui.session import Session
from huddle_tui.store import Change
from huddle_tui.updates import (
    Booted,
    ChatUpdated,
    Connection,
    MissedWhileAway,
    StatusChanged,
    Update,
    WatchedActive,
)
from huddle_tui.widgets.call_banner import CallBanner
from huddle_tui.widgets.contact_list import ContactList
from huddle_tui.widgets.conversation import Composer, Conversation
from huddle_tui.widgets.footer import KeyFooter
from huddle_tui.widgets.message_log import MessageLog
from huddle_tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from huddle_tui.app import HuddleApp


class MainScreen(Screen[None]):
    """Contacts and channels on the left, the open chat on the right."""

    BINDINGS = [
        Binding("ctrl+k", "call", "Call", id="call", priority=True),
        Binding("ctrl+r", "decline", "Decline", id="decline", priority=True, show=False),
        Binding("ctrl+o", "ooo", "My OOO", id="ooo", priority=True),
        Binding("ctrl+d", "toggle_dnd", "DnD", id="dnd", priority=True),
        Binding("ctrl+w", "watch", "Watch", id="watch", priority=True),
        Binding("ctrl+l", "calls", "Calls", id="calls", priority=True),
        Binding("ctrl+f", "filter", "Find", id="filter", priority=True),
        Binding("ctrl+n", "next_unread", "Next unread", id="next-unread", priority=True, show=False),
        Binding("ctrl+g", "search", "Search", id="search", priority=True, show=False),
        Binding("ctrl+b", "toggle_people", "People", id="people", priority=True, show=False),
    ]
    # Below 100 columns the people list narrows, below 72 more: the chat keeps room to read.
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (72, "-narrow"), (100, "-wide")]

    def __init__(self, session: Session, stale_hours: float) -> None:
        super().__init__()
        self.session = session
        self.state = session.state
        self.stale_hours = stale_hours
        self.calls = CallControl(self)
        self.messages = MessageActions(self)
        self._stale_shown = False  # presence is drawn as last known (the server out of reach)

    @property
    def huddle(self) -> HuddleApp:
        """The app, with its alerts."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        # Kept as attributes: late timers and events never look up widgets being torn down.
        clock = self.session.clock
        self.status_bar = StatusBar(id="status")
        self.call_banner = CallBanner(id="call-banner")
        self.filter_input = Input(placeholder="filter: type a name", id="filter")
        self.contacts = ContactList(self.state, clock, id="contacts")
        self.contacts.watched = lambda handle: self.session.watching is not None and handle in self.session.watching
        self.conversation = Conversation(self.state, clock, id="conversation")
        self.conversation.stale_hours = self.stale_hours
        yield self.status_bar
        yield self.call_banner
        with Horizontal(id="main"):
            self.people = Vertical(id="people")
            with self.people:
                yield self.filter_input
                yield self.contacts
            yield self.conversation
        yield KeyFooter()

    def on_mount(self) -> None:
        """No blinking cursors in tests, snapshots and screenshots; the call countdown ticks."""
        if self.app.is_headless:
            self.filter_input.cursor_blink = False
            self.conversation.composer.cursor_blink = False
        self.call_banner.clear()
        self.set_interval(1.0, self.calls.tick)
        self.set_interval(1.0, self.show_typing)  # "… is typing" goes a few seconds after they stop
        self.update_status()  # who I am shows before any snapshot

    # ---- what the session says ----------------------------------------------------
    def apply(self, update: Update) -> None:
        """Show what changed."""
        match update:
            case Booted():
                self.contacts.rebuild_soon()
                self.contacts.flush()  # start-up waits for nothing else
                self.conversation.show(self.conversation.key)
                self.update_status()
            case Connection():
                self.status_bar.connection = update.state
                self.status_bar.connection_detail = update.detail
                self.status_bar.show()
                self._presence_may_be_stale(update.state)
            case ChatUpdated():
                self._chat_updated(update.chat, update.older)
            case MissedWhileAway():
                plural = "s" if update.count > 1 else ""
                text = f"☎ You missed {update.count} call{plural} while you were away"
                self.huddle.alert("missed_call", text, severity="error", loud=True)
            case StatusChanged():
                self.update_status()
            case WatchedActive():
                name = self.state.name_of(update.handle)
                self.contacts.mark(ChatKey.dm(update.handle))
                self.huddle.alert("watch", f"● {name} is active now", severity="information", loud=True)

    def changed(self, change: Change) -> None:
        """An event changed the state: touch only what it changed."""
        open_key = self.conversation.key
        if change.kind == "names":  # someone now looks like someone else, or no longer does
            self.contacts.rebuild_soon()
            self.conversation.refresh_header()
        elif change.kind == "contact":
            self.contacts.mark(ChatKey.dm(change.handle))
            if ChatKey.dm(change.handle) == open_key:
                self.conversation.refresh_header()
            if change.handle == self.state.me:
                self.update_status()
        elif change.kind == "message" and change.chat is not None:
            self._message_arrived(change.chat, change.message_id, change.incoming)
        elif change.kind == "edited" and change.chat == open_key:
            row = self.conversation.log_view.row_of(change.message_id)
            if row is not None:
                row.refresh_body()
        elif change.kind == "typing" and change.chat == open_key:
            self.show_typing()
        elif change.kind in ("receipt", "deleted", "moved") and change.chat is not None:
            self.contacts.mark(change.chat)
            if change.chat == open_key and change.kind == "receipt":
                self.conversation.refresh_receipts()
            elif change.chat == open_key:
                self.conversation.render_log()
        elif change.kind == "call":
            self.calls.changed(change.call_id)
        elif change.kind == "channel":
            self.contacts.rebuild_soon()

    def _presence_may_be_stale(self, link: str) -> None:
        """Out of reach for a while, presence is only last known: redraw then (and when back)."""
        if link == "live":
            if self._stale_shown:
                self._stale_shown = False
                self.contacts.rebuild_soon()
                self.conversation.refresh_header()
            return

        def stale_now() -> None:
            if self.state.out_of_reach_since is not None:
                self._stale_shown = True
                self.contacts.rebuild_soon()
                self.conversation.refresh_header()

        if not self._stale_shown:
            self.set_timer(presence.STALE_AFTER.total_seconds() + 0.1, stale_now)

    def show_typing(self) -> None:
        """Who is typing in the open chat."""
        key = self.conversation.key
        typing = self.session.sender.typing_in(key) if key is not None else []
        self.conversation.show_typing([self.state.name_of(user) for user in typing])

    def update_status(self) -> None:
        """Redraw the status line from the state."""
        bar = self.status_bar
        bar.me = self.state.me or self.session.config.user  # known before any snapshot
        me = self.state.contacts.get(self.state.me)
        bar.my_status = me.status if me else ""
        bar.ooo = presence.ooo_short(me.ooo) if me is not None and me.ooo is not None else ""
        bar.missed = len(self.state.unseen_missed())
        outbox = self.session.sender.outbox
        bar.pending = len(outbox.items) if outbox else 0
        bar.show()

    def _chat_updated(self, chat: ChatKey, older: bool) -> None:
        self.update_status()
        if chat == self.conversation.key:
            self.conversation.render_log()
            if older:
                self.mark_visible_read()

    def _message_arrived(self, chat: ChatKey, message_id: str, incoming: bool) -> None:
        self.contacts.mark(chat)
        message = next((m for m in self.state.chats.get(chat, []) if m.id == message_id), None)
        if message is None:
            return
        replaced = not incoming and self.session.sender.drop_pending_twin(chat, message)
        if chat == self.conversation.key:
            if replaced:
                self.conversation.render_log()  # the pending row becomes the real one
            else:
                self.conversation.add_message(message)
            self.mark_visible_read()
        if incoming and (chat != self.conversation.key or not self.app.app_focus):
            # A DM or a mention is for me: it alerts. A channel's chatter only counts.
            mentioned = self.state.mentions_me(message)
            if chat.is_channel and not mentioned:
                return
            where = f" in {self.state.chat_title(chat)}" if chat.is_channel else ""
            preview = untrusted.line(message.body, limit=80)
            text = f"{'@ ' if mentioned else ''}{self.state.name_of(message.sender)}{where}: {preview}"
            kind = "mention" if mentioned else "message"
            self.huddle.alert(kind, text, severity="information", loud=True, group=str(chat))

    # ---- sending and reading --------------------------------------------------------
    @on(Composer.Submitted)
    def send_typed(self, event: Composer.Submitted) -> None:
        """A new message (kept in the outbox first), a reply, or the edit of mine."""
        self.messages.submit(event.text)

    @on(Composer.EditLast)
    def edit_last(self, _: Composer.EditLast) -> None:
        """↑ in an empty composer: edit my last message."""
        self.messages.edit_last()

    @on(Composer.Changed)
    def typing(self, event: Composer.Changed) -> None:
        """I am typing: the other side may be told (at most every few seconds)."""
        key = self.conversation.key
        if key is not None and event.text_area.text.strip() and self.conversation.mode is None:
            self.session.sender.typed(key)

    @on(ContactList.Chosen)
    def open_chat(self, event: ContactList.Chosen) -> None:
        """Show a conversation; load its history if none is known yet."""
        self.conversation.show(event.key)
        self.conversation.composer.focus()
        if event.key not in self.state.history_cursor:
            self.load_history(event.key)
        if any(m.truncated for m in self.state.chats.get(event.key, [])):
            self.run_worker(self.session.whole_bodies(event.key), group="bodies", exit_on_error=False)
        self.mark_visible_read()

    @work(group="history", exit_on_error=False)
    async def load_history(self, key: ChatKey, older: bool = False) -> None:
        """A page of history (older than what is known when `older`)."""
        await self.session.load_history(key, older=older)

    def mark_visible_read(self) -> None:
        """Incoming messages on screen in the focused conversation are read, not before."""
        # After the next refresh: rows just mounted have no place on screen yet.
        self.call_after_refresh(self._mark_visible_read)

    def _mark_visible_read(self) -> None:
        key = self.conversation.key
        if key is None or not self.app.app_focus or not self.is_current:
            return
        newest = self.conversation.newest_visible_unread()
        if newest is not None:
            self._mark_read(newest)

    @work(group="read", exit_on_error=False)
    async def _mark_read(self, message_id: str) -> None:
        await self.session.mark_read(message_id)

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

    @on(Composer.ToLog)
    def to_log(self, _: Composer.ToLog) -> None:
        """Escape in the composer: cancel a reply or an edit; else the cursor on the newest message."""
        if self.conversation.mode is not None:
            self.conversation.stop()
        else:
            self.conversation.log_view.focus()

    @on(MessageLog.Left)
    def back_to_typing(self, _: MessageLog.Left) -> None:
        """Escape on the log: back to the composer."""
        self.conversation.composer.focus()

    @on(MessageLog.Act)
    def act_on_message(self, event: MessageLog.Act) -> None:
        """A key on the message under the cursor."""
        self.messages.act(event.action, event.message)

    def on_app_focus(self, _: events.AppFocus) -> None:
        """Back in the terminal: what is on screen is now read."""
        self.mark_visible_read()

    def on_screen_resume(self) -> None:
        """Back from a dialog: what is on screen may be read now."""
        self.mark_visible_read()

    # ---- keys -----------------------------------------------------------------------
    def target(self) -> ChatKey | None:
        """The chat a key acts on: the highlighted row while the list has focus, else the open chat."""
        if self.contacts.has_focus and self.contacts.selected_chat is not None:
            return self.contacts.selected_chat
        return self.conversation.key or self.contacts.selected_chat

    def open(self, chat: ChatKey) -> None:
        """Open a chat, as if chosen in the list."""
        self.open_chat(ContactList.Chosen(chat))

    def action_call(self) -> None:
        """Call the highlighted or open person; answer a call ringing in; hang up the call I am in."""
        self.calls.call_answer_or_hang_up(self.target())

    def action_decline(self) -> None:
        """Decline the call ringing in."""
        self.calls.decline()

    def action_calls(self) -> None:
        """The calls list; looking at it marks missed calls seen."""
        self.calls.show_list()

    @work(group="presence", exit_on_error=False)
    async def action_toggle_dnd(self) -> None:
        """Do not disturb on/off (alerts go quiet while on)."""
        await self.session.toggle_dnd()

    def action_watch(self) -> None:
        """Tell me when the selected contact becomes active."""
        contact = self.state.contact_of(self.target())
        if contact is None or contact.handle == self.state.me:
            self.app.notify("Pick a person to watch first.", severity="warning")
            return
        if self.session.watch(contact.handle):
            self.app.notify(f"Watching {contact.name} (⚑): you'll be told when they're active.")
        else:
            self.app.notify(f"Stopped watching {contact.name}.")
        self.contacts.mark(ChatKey.dm(contact.handle))

    def action_ooo(self) -> None:
        """My out-of-office entries."""
        from huddle_tui.screens.ooo import OooScreen

        if self.session.api is not None:
            self.app.push_screen(OooScreen(self.session.api, self.state.me))

    def action_filter(self) -> None:
        """Jump to the contact filter."""
        self.people.display = True
        self.filter_input.focus()

    def action_search(self) -> None:
        """Search old messages."""
        self.messages.search()

    def action_next_unread(self) -> None:
        """The next chat with something unread: mentions first, then DMs, then channels."""
        chat = self.state.next_unread(self.conversation.key)
        if chat is None:
            self.app.notify("Nothing unread.")
            return
        self.open(chat)

    def action_toggle_people(self) -> None:
        """Hide the people list (the chat takes the width), or show it again."""
        self.people.display = not self.people.display
        if not self.people.display and self.focused in (self.filter_input, self.contacts):
            self.conversation.composer.focus()

    @on(Input.Changed, "#filter")
    def filter_contacts(self, event: Input.Changed) -> None:
        """Type to filter the contacts."""
        self.contacts.filter_text = event.value.strip()
        self.contacts.rebuild_soon()

    @on(Input.Submitted, "#filter")
    def filter_done(self, _: Input.Submitted) -> None:
        """Enter in the find box opens the first match (and what is typed next goes to its
        composer); nothing matching, it says so."""
        chat = self.contacts.first_match()
        if chat is None:
            self.app.notify("Nobody and no channel matches that.", severity="warning")
            return
        self.filter_input.value = ""  # the whole list again: who is around stays in sight
        self.open(chat)

    def on_key(self, event: events.Key) -> None:
        """Down from the find box goes into the list, on the first match; escape clears it and
        goes back to the open chat (or the list)."""
        if event.key == "down" and self.focused is self.filter_input:
            event.stop()
            self.contacts.highlight_first()
            self.contacts.focus()
        elif event.key == "escape" and self.focused is self.filter_input:
            event.stop()
            self.filter_input.value = ""
            (self.conversation.composer if self.conversation.key is not None else self.contacts).focus()
