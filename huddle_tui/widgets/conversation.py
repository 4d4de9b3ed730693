"""One conversation: presence header, OOO banner, messages with receipts, call lines, composer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static, TextArea

from huddle_tui import presence
from huddle_tui.records import CallRecord, ChatKey, ChatMessage
from huddle_tui.store import State
from huddle_tui.widgets.message_log import MessageLog, MessageRow, call_line, first_name, quote_of


@dataclass
class _Item:
    at: datetime
    message: ChatMessage | None = None
    call: CallRecord | None = None


class Composer(TextArea):
    """Enter sends; ctrl+j (or alt+enter, where the terminal tells it from enter) starts a new line."""

    class Submitted(Message):
        """The user sent what they typed."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class ToLog(Message):
        """Escape: the reader wants the message cursor (or to cancel a reply or an edit)."""

    class EditLast(Message):
        """↑ in an empty composer: edit my last message."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip()
            if text:
                self.post_message(self.Submitted(self.text.rstrip()))
                self.clear()
            return
        if event.key == "escape":
            event.stop()
            self.post_message(self.ToLog())
            return
        if event.key == "up" and not self.text:
            event.stop()
            self.post_message(self.EditLast())
            return
        if event.key in ("alt+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)


class Conversation(Vertical):
    """The open chat. The app calls show/refresh; it posts Rendered, Composer.Submitted, MessageLog.Scrolled."""

    class Rendered(Message):
        """Rows were mounted and laid out: what is on screen can be read now."""

    def __init__(self, state: State, clock: Callable[[], datetime] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.state = state
        self.clock = clock or (lambda: datetime.now(UTC))
        self.key: ChatKey | None = None
        self.stale_hours = 4.0
        self.call_status = ""
        self._rows: dict[str, MessageRow] = {}
        # What the composer is for besides a new message: replying to one, or editing mine.
        self.mode: tuple[Literal["reply", "edit"], ChatMessage] | None = None

    def compose(self) -> ComposeResult:
        # Kept as attributes, so late timers and events never look up widgets being torn down.
        self.header = Static("", id="chat-header")
        self.banner = Static("", id="ooo-banner")
        self.log_view = MessageLog(id="log")
        self.hint = Static("", id="stale-hint")
        self.typing_line = Static("", id="typing")
        self.mode_bar = Static("", id="composer-mode")
        self.composer = Composer(id="composer", soft_wrap=True, show_line_numbers=False, compact=True)
        self.composer.placeholder = "type a message…  (enter ↵ send · ctrl+j new line)"
        yield from (self.header, self.banner, self.log_view, self.hint, self.typing_line, self.mode_bar, self.composer)

    def on_mount(self) -> None:
        """Presence words age on their own."""
        self.set_interval(30, self.refresh_header)
        self.typing_line.display = self.mode_bar.display = False
        self.show(None)

    # ---- the composer's mode and who is typing ------------------------------------
    def start(self, mode: Literal["reply", "edit"], message: ChatMessage) -> None:
        """Reply to a message, or edit mine (its text in the composer); escape cancels."""
        self.mode = (mode, message)
        if mode == "reply":
            text = f"↪ replying to {quote_of(self.state, message.id)}  (esc cancels)"
        else:
            text = "✎ editing your message  (enter saves · esc cancels)"
            self.composer.text = message.body
            self.composer.move_cursor(self.composer.document.end)
        self.mode_bar.update(Content(text))
        self.mode_bar.display = True
        self.composer.focus()

    def stop(self) -> None:
        """Back to writing a new message."""
        if self.mode is not None and self.mode[0] == "edit":
            self.composer.clear()
        self.mode = None
        self.mode_bar.display = False

    def show_typing(self, names: list[str]) -> None:
        """ "Maya is typing…" (names through the door already)."""
        text = ""
        if len(names) == 1:
            text = f"{names[0]} is typing…"
        elif names:
            text = f"{', '.join(names[:-1])} and {names[-1]} are typing…"
        if text != str(self.typing_line.render()) or bool(text) != self.typing_line.display:
            self.typing_line.update(Content(text))
            self.typing_line.display = bool(text)

    # ---- what is shown ------------------------------------------------------------
    def show(self, key: ChatKey | None) -> None:
        """Open a chat (None: nothing selected)."""
        if key != self.key:
            self.stop()
            self.show_typing([])
        self.key = key
        self.render_log()
        self.refresh_header()
        self.composer.disabled = key is None

    def title(self) -> str:
        """The name of the open chat, fit to show."""
        return "" if self.key is None else self.state.chat_title(self.key)

    def refresh_header(self) -> None:
        """Header sentence, OOO banner and the stale-teammate hint."""
        header, banner, hint = self.header, self.banner, self.hint
        now = self.clock()
        contact = self.state.contact_of(self.key)
        if contact is not None:
            contact = presence.as_shown(contact, self.state.presence_last_known(now))
        if self.key is None:
            header.update(Content.styled("Pick someone on the left to talk to.", "$text-muted"))
            banner.display = hint.display = False
            return
        line = Content.styled(self.title(), "bold")
        if contact is not None and contact.handle in self.state.ambiguous:
            line = Content.assemble(line, (f" @{contact.shown_handle}", "$text-muted"))
        if contact is not None:
            word = presence.state(contact, now)
            line = Content.assemble(
                line,
                " ─ ",
                (presence.GLYPHS[word] + " ", f"$text-{'success' if word == 'active' else 'muted'}"),
                presence.sentence(contact, now),
            )
            header.set_classes(f"state-{word}")
        if self.call_status:
            line = Content.assemble(line, "   ", (self.call_status, "bold $warning"))
        header.update(line)
        banner.display = bool(contact and contact.ooo)
        if contact and contact.ooo:
            banner.update(Content("✈ " + presence.ooo_until(contact.ooo)))
        hint_text = self.stale_hint(now)
        hint.display = bool(hint_text)
        hint.update(Content(hint_text))

    def stale_hint(self, now: datetime) -> str:
        """⚠ when someone I wrote to has unread messages and has not been seen for a while."""
        contact = self.state.contact_of(self.key)
        if contact is None or contact.status == "active":
            return ""
        unread = self.state.stale_unread_from_me(contact.handle)
        if not unread:
            return ""
        seen = contact.last_seen
        if seen is not None and now - seen < timedelta(hours=self.stale_hours):
            return ""
        gone = "hasn't been seen yet" if seen is None else f"hasn't been active for {presence.age(seen, now)}"
        plural = "s" if len(unread) != 1 else ""
        who = first_name(self.state, contact.handle)
        return f"⚠ {who} {gone} and has {len(unread)} unread message{plural} from you."

    def _items(self) -> list[_Item]:
        if self.key is None:
            return []
        items = [_Item(m.at, message=m) for m in self.state.chats.get(self.key, [])]
        if not self.key.is_channel:
            for call in self.state.calls.values():
                if self.key.id in (call.caller, call.callee) and call.started_at:
                    items.append(_Item(call.started_at, call=call))
        items.sort(key=lambda i: i.at)
        return items

    def render_log(self) -> None:
        """Rebuild the message log from the state (the cursor stays on its message)."""
        log = self.log_view
        keep = log.cursor.message.id if log.cursor is not None else None
        log.cursor = None
        log.clear()
        self._rows = {}
        widgets: list[Widget] = []
        if self.key is not None and self.state.history_cursor.get(self.key):
            widgets.append(Static(Content("↑ scroll up for older messages"), classes="older"))
        day = None
        for item in self._items():
            local = item.at.astimezone()
            if local.date() != day:
                day = local.date()
                widgets.append(Static(Content(f"── {local.strftime('%A %-d %B')} ──"), classes="day"))
            if item.message is not None:
                row = MessageRow(self.state, item.message)
                self._rows[item.message.id] = row
                widgets.append(row)
            elif item.call is not None:
                classes = "call missed" if item.call.status == "no_answer" else "call"
                line = f"{local.strftime('%H:%M')} {call_line(self.state, item.call)}"
                widgets.append(Static(Content(line), classes=classes))
        if widgets:
            self._announce(log.mount_all(widgets))
        if keep in self._rows:
            log.keep_cursor(self._rows[keep])
        if not (keep in self._rows and log.reading):  # a reader on a message keeps their place
            log.scroll_end(animate=False)

    def add_message(self, message: ChatMessage) -> None:
        """A new message in the open chat: append it (keeping the reader's place if scrolled up)."""
        log = self.log_view
        at_bottom = log.scroll_y >= log.max_scroll_y - 1
        chat = self.state.chats.get(self.key, []) if self.key is not None else []
        if not chat or chat[-1].id != message.id or len(chat) < 2 or chat[-2].at.date() != message.at.date():
            self.render_log()
        else:
            row = MessageRow(self.state, message)
            self._rows[message.id] = row
            self._announce(log.mount(row))
        if at_bottom:
            log.scroll_end(animate=False)
        self.refresh_header()

    def _announce(self, mounting: Awaitable[None]) -> None:
        async def when_mounted() -> None:
            await mounting
            self.call_after_refresh(self.post_message, self.Rendered())

        self.run_worker(when_mounted(), group="render")

    def refresh_receipts(self) -> None:
        """Receipts changed in the open chat."""
        for row in self._rows.values():
            row.refresh_receipt()
        self.refresh_header()

    def newest_visible_unread(self) -> str | None:
        """The newest incoming unread message whose row is on screen now."""
        log = self.log_view
        top, height = log.scroll_y, log.scrollable_content_region.height
        newest = None
        for message_id, row in self._rows.items():
            m = row.message
            if m.sender == self.state.me or m.read_at is not None:
                continue
            region = row.virtual_region
            if region.y < top + height and region.bottom > top:
                newest = message_id
        return newest

    def row_texts(self) -> list[str]:
        """What the log shows, line by line (tests read this as a user would)."""
        log = self.log_view
        out = []
        for child in log.children:
            if isinstance(child, MessageRow):
                out.append(" ".join(str(label.render()) for label in child.query(Static)).strip())
            elif isinstance(child, Static):
                out.append(str(child.render()))
        return out
