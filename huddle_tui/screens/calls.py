"""The calls list (missed ones marked until seen)."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from huddle_tui.store import State
from huddle_tui.widgets.message_log import call_line


class CallsScreen(ModalScreen[str | None]):
    """Every call, newest first; opening it marks missed calls seen. Enter opens the chat with
    the other person (dismissed with their handle); escape closes."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="calls.close")]

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        with Vertical(id="calls-box"):
            yield Static("Calls — enter opens the chat", id="calls-title")
            calls = sorted(self.state.calls.values(), key=lambda c: c.started_at or datetime.now(UTC), reverse=True)
            rows = []
            for call in calls:
                when = call.started_at.astimezone().strftime("%a %-d %b %H:%M") if call.started_at else ""
                flag = "● " if not call.seen and call.callee == self.state.me else "  "
                other = call.callee if call.caller == self.state.me else call.caller
                rows.append(
                    Option(Content(f"{flag}{when}  {call_line(self.state, call)}"), id=f"{call.call_id} {other}")
                )
            yield OptionList(*(rows or [Option(Content("No calls yet."), disabled=True)]), id="calls-list")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a call: its chat."""
        event.stop()
        self.dismiss((event.option.id or " ").split(" ", 1)[1] or None)

    async def action_dismiss(self, result: str | None = None) -> None:
        """Close the list."""
        self.dismiss(result)
