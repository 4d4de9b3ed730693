"""My out-of-office entries: list, create, edit, delete; server errors next to their field."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from huddle_tui import untrusted
from huddle_tui.api import Api, ApiError

MAX_MESSAGE = 280
# Which field a server error code belongs to.
FIELD_OF_CODE = {
    "DateInvalid": "start",
    "PresenceDateInvalid": "start",
    "DateRangeInvalid": "end",
    "MessageLengthLimitExceeded": "message",
}


def to_date_field(value: str | None) -> str:
    """An entry's DateTimeOffset as the local date typed in the form."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone().date().isoformat()
    except ValueError:
        return value


def from_date_field(text: str, *, end: bool) -> str | None:
    """A typed date (YYYY-MM-DD, local) as a DateTimeOffset: start of day, or end of day for `end`."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text  # let the server say what is wrong with it, next to the field
    moment = datetime.combine(day, time(23, 59, 59) if end else time(0, 0)).astimezone()
    return moment.isoformat(timespec="seconds")


def describe(entry: dict[str, Any]) -> Content:
    """One line of the list (the message through the door)."""
    start, end = to_date_field(entry.get("startDate")), to_date_field(entry.get("endDate"))
    span = untrusted.line(f"{start or '…'} → {end or '…'}")
    flag = "✈" if entry.get("isActive") else "·"
    return Content(f"{flag} {span}  {untrusted.line(entry.get('message') or '')}".rstrip())


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
        self.entries: list[dict[str, Any]] = []
        self.editing: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="ooo-box"):
            yield Static("My out of office", id="ooo-title")
            yield OptionList(id="ooo-list")
            yield Static("New entry", id="ooo-mode")
            with Horizontal(classes="ooo-row"):
                with Vertical(classes="ooo-field"):
                    yield Label("From (YYYY-MM-DD)")
                    yield Input(placeholder=date.today().isoformat(), id="start")
                    yield Static("", id="start-error", classes="field-error")
                with Vertical(classes="ooo-field"):
                    yield Label("Until (YYYY-MM-DD)")
                    yield Input(placeholder=(date.today() + timedelta(days=4)).isoformat(), id="end")
                    yield Static("", id="end-error", classes="field-error")
            yield Label("Message")
            yield Input(placeholder="back monday, ping maya for infra", id="message")
            with Horizontal(classes="ooo-row"):
                yield Static(f"0/{MAX_MESSAGE}", id="counter")
                yield Static("", id="message-error", classes="field-error")
            yield Checkbox("Out of office is on", True, id="active")
            with Horizontal(id="ooo-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("New (ctrl+n)", id="new")
                yield Button("Delete", variant="error", id="delete", disabled=True)
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
        options = [Option(describe(e), id=untrusted.line(e["id"])) for e in self.entries]
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
        entry = next((e for e in self.entries if untrusted.line(e["id"]) == event.option.id), None)
        if entry is None:
            return
        self.editing = int(entry["id"])
        self.query_one("#start", Input).value = to_date_field(entry.get("startDate"))
        self.query_one("#end", Input).value = to_date_field(entry.get("endDate"))
        # Shown and edited as the door shows it: a control byte stored before the server refused
        # them becomes its visible picture (and is saved so).
        self.query_one("#message", Input).value = untrusted.line(entry.get("message") or "", limit=10_000)
        self.query_one("#active", Checkbox).value = bool(entry.get("isActive"))
        self.say("#ooo-mode", f"Editing entry {self.editing}")
        self.query_one("#delete", Button).disabled = False
        self._clear_errors()

    def action_new(self) -> None:
        """An empty form."""
        self.editing = None
        for field in ("#start", "#end", "#message"):
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

    def _body(self) -> dict[str, Any]:
        return {
            "isActive": self.query_one("#active", Checkbox).value,
            "startDate": from_date_field(self.query_one("#start", Input).value, end=False),
            "endDate": from_date_field(self.query_one("#end", Input).value, end=True),
            "message": self.query_one("#message", Input).value or None,
        }

    @work(exclusive=True, group="ooo", exit_on_error=False)
    async def action_save(self) -> None:
        """Create or update; an error is shown next to the field it concerns."""
        self._clear_errors()
        body = self._body()
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

    @work(exclusive=True, group="ooo", exit_on_error=False)
    async def delete_entry(self) -> None:
        """Remove the entry being edited."""
        if self.editing is None:
            return
        try:
            await self.api.delete_ooo(self.handle, self.editing)
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
            self.delete_entry()

    def action_close(self) -> None:
        """Back to the conversation."""
        self.dismiss(None)
