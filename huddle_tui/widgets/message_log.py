"""The log of a conversation: message rows with receipts, and a cursor to act on one message."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Label, Static

from huddle_tui import untrusted
from huddle_tui.records import CallRecord, ChatMessage
from huddle_tui.store import State, mention_spans
from huddle_tui.widgets import markdown


def quote_of(state: State, message_id: str) -> str:
    """A one-line quote of a message (its sender and the start of its body), fit to show."""
    found = state.find(message_id)
    if found is None:
        return "a deleted message" if message_id in state.deleted else "a message not loaded here"
    parent = found[1]
    words = markdown.render(untrusted.text(parent.body[:2000])).plain  # what the reader saw, not its `**`
    return f"{first_name(state, parent.sender)}: {untrusted.line(words, limit=60)}"


def first_name(state: State, handle: str) -> str:
    """How a person is called in lines of text."""
    if handle == state.me:
        return "you"
    return (state.name_of(handle).split() or ["?"])[0][:12]


def receipt(message: ChatMessage) -> str:
    """⧗ waiting to send, ✓ delivered, ✓✓ read (with the time)."""
    if message.pending:
        return "⧗ sending"
    if message.read_at is not None:
        return f"✓✓ {message.read_at.astimezone().strftime('%H:%M')}"
    return "✓"


def call_line(state: State, call: CallRecord) -> str:
    """A call as a line of the conversation."""
    other = call.callee if call.caller == state.me else call.caller
    name = first_name(state, other)
    who = f"you called {name}" if call.caller == state.me else f"{name} called you"
    outcome = {
        "ringing": "ringing…",
        "answered": "on the call",
        "no_answer": "missed" if call.callee == state.me else "no answer",
        "declined": "declined",
        "cancelled": "cancelled",
        "ended": f"{call.duration // 60}m {call.duration % 60:02d}s",
    }.get(call.status, call.status)
    span = ""
    if call.status == "no_answer" and call.started_at and call.ended_at:
        span = f" ({int((call.ended_at - call.started_at).total_seconds())} s)"
    return f"☎ {who} — {outcome}{span}"


class MessageRow(Horizontal):
    """time + sender | body | receipt."""

    def __init__(self, state: State, message: ChatMessage) -> None:
        mine = message.sender == state.me
        mention = not mine and state.mentions_me(message)
        super().__init__(classes="message mine" if mine else "message mention" if mention else "message")
        self.message = message
        self.state = state
        self.leaving = False  # removed from the log, until its removal is done

    def compose(self) -> ComposeResult:
        m = self.message
        meta = f"{m.at.astimezone().strftime('%H:%M')} {first_name(self.state, m.sender):<6}"
        yield Label(Content(meta), classes="meta")
        yield Static(self.body(), classes="body")
        mine = m.sender == self.state.me
        yield Label(receipt(m) if mine else "", classes="receipt read" if m.read_at else "receipt")

    def body(self) -> Content:
        """The reply quote, the body (Markdown, mentions of me marked), (edited), the reactions."""
        m, state = self.message, self.state
        parts: list[Content] = []
        if m.reply_to:
            parts.append(Content.styled(f"↪ {quote_of(state, m.reply_to)}\n", "italic $text-muted"))
        shown = markdown.render(untrusted.text(m.body))
        if m.sender != state.me and state.me:
            for start, end in mention_spans(shown.plain, state.me):
                shown = shown.stylize("bold reverse $accent", start, end)
        parts.append(shown)
        if m.truncated:
            parts.append(Content.styled("…\n(longer: the rest is loading)", "$text-muted"))
        if m.edited_at is not None:
            parts.append(Content.styled(" (edited)", "$text-muted"))
        if m.reactions:
            line = "   ".join(f"{untrusted.name(emoji, limit=8)} {len(who)}" for emoji, who in m.reactions.items())
            mine = any(state.me in who for who in m.reactions.values())
            parts.append(Content.styled(f"\n{line}", "$accent" if mine else "$text-muted"))
        return Content.assemble(*parts)

    def refresh_body(self) -> None:
        """The message was edited or reacted to."""
        for body in self.query(".body").results(Static):
            body.update(self.body())

    def refresh_receipt(self) -> None:
        """The receipt moved (delivered -> read, or sent from the outbox)."""
        if self.message.sender != self.state.me:
            return
        # A row not composed yet shows the current receipt when it is.
        for label in self.query(".receipt").results(Label):
            label.update(receipt(self.message))
            label.set_class(self.message.read_at is not None, "read")


class MessageLog(VerticalScroll):
    """The scrolling log; reaching the top asks for older messages, any scroll may reveal unread
    ones. With focus (tab, or escape/↑ from the composer) a cursor picks one message, and keys act
    on it: the log posts `MessageLog.Act` and the screen does the work."""

    BINDINGS = [
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("home", "move(-100000)", "First", show=False),
        Binding("end", "move(100000)", "Last", show=False),
        Binding("r", "act('reply')", "Reply", id="log.reply"),
        Binding("plus,equals_sign", "act('react')", "React", id="log.react"),
        Binding("e", "act('edit')", "Edit", id="log.edit"),
        Binding("d,delete", "act('delete')", "Delete", id="log.delete"),
        Binding("c", "act('copy')", "Copy", id="log.copy"),
        Binding("o", "act('open')", "Open link", id="log.open"),
        Binding("escape", "leave", "Back to typing", id="log.leave"),
    ]

    class Act(Message):
        """Do something with a message: reply | react | edit | delete | copy | open."""

        def __init__(self, action: str, message: ChatMessage) -> None:
            super().__init__()
            self.action = action
            self.message = message

    class Left(Message):
        """The reader is done with the cursor."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.can_focus = True
        self.cursor: MessageRow | None = None
        self.held = False

    def row_of(self, message_id: str) -> MessageRow | None:
        """The row showing a message, if it is shown."""
        return next((row for row in self.rows() if row.message.id == message_id), None)

    def point_at(self, message_id: str) -> bool:
        """Put the cursor on a message (a search result); whether it is shown."""
        row = self.row_of(message_id)
        if row is not None:
            self.focus()
            self._put(row)
            self.held = True  # the focus comes a moment later; a rebuild meanwhile keeps the place
            self.call_after_refresh(row.scroll_visible, animate=False, top=True)  # once it is laid out
        return row is not None

    @property
    def reading(self) -> bool:
        """Someone is on a message here (the cursor shows, rebuilds keep the place)."""
        return self.has_focus or self.held

    def keep_cursor(self, row: MessageRow) -> None:
        """The log was rebuilt: the cursor is on the same message's new row."""
        self.cursor = row
        if self.reading:
            row.add_class("cursor")
            self.call_after_refresh(row.scroll_visible, animate=False)

    def rows(self) -> list[MessageRow]:
        """The message rows, top to bottom (not those on their way out)."""
        return [child for child in self.children if isinstance(child, MessageRow) and not child.leaving]

    def clear(self) -> None:
        """Remove every row. Removal completes later: until then the old rows are not `rows()`,
        so a cursor put right after a rebuild lands on the new row of its message."""
        for row in self.rows():
            row.leaving = True
        self.remove_children()

    def on_focus(self) -> None:
        """Taking focus puts the cursor on the newest message (or keeps where it was)."""
        rows = self.rows()
        if self.cursor not in rows:
            self._put(rows[-1] if rows else None)

    def on_blur(self) -> None:
        """The cursor shows only while the log has focus."""
        self.held = False
        if self.cursor is not None:
            self.cursor.remove_class("cursor")

    def action_move(self, by: int) -> None:
        """Move the cursor (at the top, it stays: older messages load as the log scrolls)."""
        rows = self.rows()
        if not rows:
            return
        at = rows.index(self.cursor) if self.cursor in rows else len(rows) - 1
        self._put(rows[max(0, min(len(rows) - 1, at + by))])

    def _put(self, row: MessageRow | None) -> None:
        if self.cursor is not None:
            self.cursor.remove_class("cursor")
        self.cursor = row
        if row is not None:
            row.add_class("cursor")
            row.scroll_visible(animate=False)

    def action_act(self, action: str) -> None:
        """A key that acts on the message under the cursor."""
        if self.cursor is not None:
            self.post_message(self.Act(action, self.cursor.message))

    def action_leave(self) -> None:
        """Back to the composer."""
        self.post_message(self.Left())

    class Scrolled(Message):
        """The reader moved; `at_top` when they reached the oldest row shown."""

        def __init__(self, at_top: bool) -> None:
            super().__init__()
            self.at_top = at_top

    def watch_scroll_y(self, old: float, new: float) -> None:
        """Tell the conversation where the reader is."""
        super().watch_scroll_y(old, new)
        if new != old:
            self.post_message(self.Scrolled(new <= 0 and old > 0))
