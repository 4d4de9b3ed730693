"""Calls: the list (missed ones marked until seen) and the incoming-call prompt."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, OptionList, Static

from huddle_tui.store import State
from huddle_tui.widgets.conversation import call_line


class CallsScreen(ModalScreen[None]):
    """Every call, newest first; opening it marks missed calls seen."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="calls.close")]

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        with Vertical(id="calls-box"):
            yield Static("Calls", id="calls-title")
            calls = sorted(self.state.calls.values(), key=lambda c: c.started_at or datetime.now(UTC), reverse=True)
            rows = []
            for call in calls:
                when = call.started_at.astimezone().strftime("%a %-d %b %H:%M") if call.started_at else ""
                flag = "● " if not call.seen else "  "
                rows.append(Content(f"{flag}{when}  {call_line(self.state, call)}"))
            yield OptionList(*(rows or [Content("No calls yet.")]), id="calls-list")
        yield Footer()

    async def action_dismiss(self, result: None = None) -> None:
        """Close the list."""
        self.dismiss(result)


class IncomingCall(ModalScreen[str]):
    """Someone is calling: answer or decline. Dismissed with "answer" | "decline" | "gone"."""

    BINDINGS = [
        Binding("a", "answer", "Answer", id="call.answer"),
        Binding("d,escape", "decline", "Decline", id="call.decline"),
    ]

    def __init__(self, call_id: str, caller: str) -> None:
        """`caller`: the name to show, already through the door (State.name_of)."""
        super().__init__()
        self.call_id = call_id
        self.caller = caller

    def compose(self) -> ComposeResult:
        with Vertical(id="incoming-box"):
            yield Static(Content(f"☎  {self.caller} is calling"), id="incoming-title")
            with Horizontal(id="incoming-buttons"):
                yield Button("Answer (a)", variant="success", id="answer")
                yield Button("Decline (d)", variant="error", id="decline")
        yield Footer()

    def action_answer(self) -> None:
        """Pick up."""
        self.dismiss("answer")

    def action_decline(self) -> None:
        """Refuse."""
        self.dismiss("decline")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        event.stop()
        self.dismiss("answer" if event.button.id == "answer" else "decline")
