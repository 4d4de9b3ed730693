"""A yes/no question before something that cannot be undone."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class Confirm(ModalScreen[bool]):
    """Dismissed with True (y, enter on Yes) or False (n, escape, No)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        """`question`: plain text (other people's words in it already through the door)."""
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(Content(self.question), id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_mount(self) -> None:
        """The safe answer has focus."""
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        """Yes or no."""
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        event.stop()
        self.dismiss(event.button.id == "yes")
