"""My out-of-office entries: list, create, edit, delete; errors next to their field, all at once."""

from __future__ import annotations

from datetime import date, datetime, time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from huddle_tui import untrusted
from huddle_tui.api import Api
from huddle_tui.errors import ApiError
from huddle_tui.records import OooDraft, OooEntry
from huddle_tui.screens.confirm import Confirm

MAX_MESSAGE = 280
# Which field a server error code belongs to.
FIELD_OF_CODE = {
    "DateInvalid": "start",
    "PresenceDateInvalid": "start",
    "DateRangeInvalid": "end",
    "MessageLengthLimitExceeded": "message",
    "MessageInvalid": "message",
}


def to_date_field(value: datetime | None) -> str:
    """An entry's time as the local date typed in the form."""
    return value.astimezone().date().isoformat() if value is not None else ""


def from_date_field(text: str, *, end: bool) -> datetime | None:
    """A typed date (YYYY-MM-DD, local): start of day, or end of day for `end`; None when
    blank; ValueError saying how to write it otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"⚠ {untrusted.line(text, limit=20)!s} is not a date: write it as YYYY-MM-DD") from None
    return datetime.combine(day, time(23, 59, 59) if end else time(0, 0)).astimezone()


def describe(entry: OooEntry) -> Content:
    """One line of the list (the message through the door)."""
    span = f"{to_date_field(entry.start) or '…'} → {to_date_field(entry.end) or '…'}"
    flag = "✈" if entry.active else "·"
    return Content(f"{flag} {span}  {untrusted.line(entry.message)}".rstrip())


class OooScreen(ModalScreen[None]):
    """Create, edit and delete my OOO entries."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="ooo.close"),
        Binding("ctrl+s", "save", "Save", id="ooo.save", priority=True),
        Binding("ctrl+n", "new", "New", id="ooo.new", priority=True),
    ]

    def __init__(self, api: Api, handle: str) -> None:
        super().__init__()
        self.api = api
        self.handle = handle
        self.entries: list[OooEntry] = []
        self.editing: int | None = None

    def compose(self) -> ComposeResult:
        # Compact fields (one line each), in a box that scrolls: the whole form, its buttons
        # included, fits 80×24.
        with VerticalScroll(id="ooo-box"):
            yield Static("My out of office", id="ooo-title")
            yield OptionList(id="ooo-list")
            yield Static("New entry", id="ooo-mode")
            with Horizontal(classes="ooo-row"):
                with Vertical(classes="ooo-field"):
                    yield Label("From (YYYY-MM-DD)")
                    yield Input(date.today().isoformat(), placeholder="YYYY-MM-DD", id="start", compact=True)
                    yield Static("", id="start-error", classes="field-error")
                with Vertical(classes="ooo-field"):
                    yield Label("Until (YYYY-MM-DD)")
                    yield Input(placeholder="YYYY-MM-DD (optional)", id="end", compact=True)
                    yield Static("", id="end-error", classes="field-error")
            yield Label("Message")
            yield Input(placeholder="what teammates should know (optional)", id="message", compact=True)
            with Horizontal(classes="ooo-row"):
                yield Static(f"0/{MAX_MESSAGE}", id="counter")
                yield Static("", id="message-error", classes="field-error")
            yield Checkbox("Out of office is on", True, id="active", compact=True)
            with Horizontal(id="ooo-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("New (ctrl+n)", id="new", compact=True)
                yield Button("Delete", variant="error", id="delete", disabled=True, compact=True)
            yield Static("", id="ooo-status")
        yield Footer()

    def on_mount(self) -> None:
        """Load my entries."""
        self.reload()

    @work(exclusive=True, group="ooo", exit_on_error=False)
    async def reload(self) -> None:
        """Fetch my entries."""
        try:
            self.entries = await self.api.my_ooo(self.handle)
        except ApiError as exc:
            self.say("#ooo-status", f"Could not load your entries: {exc.message}")
            return
        options = [Option(describe(e), id=str(e.id)) for e in self.entries]
        listing = self.query_one("#ooo-list", OptionList)
        listing.clear_options()
        listing.add_options(options or [Option(Content("No entries yet: fill in the form to add one."), disabled=True)])

    @on(Input.Changed, "#message")
    def count(self, event: Input.Changed) -> None:
        """Characters, not bytes: 280 at most."""
        length = len(event.value)
        counter = self.query_one("#counter", Static)
        counter.update(f"{length}/{MAX_MESSAGE}")
        counter.set_class(length > MAX_MESSAGE, "over")

    @on(OptionList.OptionSelected, "#ooo-list")
    def edit(self, event: OptionList.OptionSelected) -> None:
        """Load an entry into the form."""
        entry = next((e for e in self.entries if str(e.id) == event.option.id), None)
        if entry is None:
            return
        self.editing = entry.id
        self.query_one("#start", Input).value = to_date_field(entry.start)
        self.query_one("#end", Input).value = to_date_field(entry.end)
        # Shown and edited as the door shows it: a control byte stored before the server refused
        # them becomes its visible picture (and is saved so).
        self.query_one("#message", Input).value = untrusted.line(entry.message, limit=10_000)
        self.query_one("#active", Checkbox).value = entry.active
        self.say("#ooo-mode", f"Editing entry {self.editing}")
        self.query_one("#delete", Button).disabled = False
        self._clear_errors()

    def action_new(self) -> None:
        """An empty form."""
        self.editing = None
        self.query_one("#start", Input).value = date.today().isoformat()
        for field in ("#end", "#message"):
            self.query_one(field, Input).value = ""
        self.query_one("#active", Checkbox).value = True
        self.query_one("#ooo-mode", Static).update("New entry")
        self.query_one("#delete", Button).disabled = True
        self._clear_errors()

    def say(self, target: str, text: str) -> None:
        """Show a line (server text included) in one of the form's lines, as plain text."""
        self.query_one(target, Static).update(Content(untrusted.line(text, limit=500)))

    def _clear_errors(self) -> None:
        for field in ("start", "end", "message"):
            self.query_one(f"#{field}-error", Static).update("")
        self.query_one("#ooo-status", Static).update("")

    def _draft(self) -> OooDraft | None:
        """The entry the form holds; None (and every error shown next to its field) if it is wrong."""
        errors: dict[str, str] = {}
        dates: dict[str, datetime | None] = {}
        for field in ("start", "end"):
            try:
                dates[field] = from_date_field(self.query_one(f"#{field}", Input).value, end=field == "end")
            except ValueError as exc:
                errors[field], dates[field] = str(exc), None
        start, end = dates["start"], dates["end"]
        if start is not None and end is not None and start > end:
            errors["end"] = f"⚠ From ({to_date_field(start)}) is after Until ({to_date_field(end)})"
        message = self.query_one("#message", Input).value
        if len(message) > MAX_MESSAGE:
            errors["message"] = f"⚠ {len(message)} characters: at most {MAX_MESSAGE}"
        if self.editing is None and end is None and not message.strip() and not errors:
            # An untouched form (today, no end, no message) never turns OOO on by itself.
            self.say("#ooo-status", "⚠ Nothing to save yet: add an end date or a message.")
            return None
        for field, text in errors.items():
            self.say(f"#{field}-error", text)
        if errors:
            return None
        return OooDraft(self.query_one("#active", Checkbox).value, start, end, message)

    @work(exclusive=True, group="ooo", exit_on_error=False)
    async def action_save(self) -> None:
        """Create or update; every error is shown next to the field it concerns."""
        self._clear_errors()
        body = self._draft()
        if body is None:
            return
        try:
            if self.editing is None:
                await self.api.create_ooo(body)
                done = "Saved: your out of office is set."
            else:
                await self.api.update_ooo(self.handle, self.editing, body)
                done = "Saved."
        except ApiError as exc:
            field = FIELD_OF_CODE.get(exc.code or "")
            target = f"#{field}-error" if field else "#ooo-status"
            self.say(target, f"⚠ {exc.message}")
            return
        self.action_new()
        self.say("#ooo-status", done)
        self.reload()

    def ask_delete(self) -> None:
        """Delete the entry being edited, once the user says yes."""
        entry = next((e for e in self.entries if e.id == self.editing), None)
        if entry is None:
            return
        question = f"Delete this out-of-office entry?\n{describe(entry).plain}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_entry(entry.id)

        self.app.push_screen(Confirm(question, yes="Delete"), answered)

    @work(exclusive=True, group="ooo", exit_on_error=False)
    async def delete_entry(self, entry_id: int) -> None:
        """Remove an entry."""
        try:
            await self.api.delete_ooo(self.handle, entry_id)
        except ApiError as exc:
            self.say("#ooo-status", f"⚠ {exc.message}")
            return
        self.action_new()
        self.say("#ooo-status", "Deleted.")
        self.reload()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Buttons do what the keys do."""
        event.stop()
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "new":
            self.action_new()
        elif event.button.id == "delete":
            self.ask_delete()

    def action_close(self) -> None:
        """Back to the conversation."""
        self.dismiss(None)
