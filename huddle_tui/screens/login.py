"""Sign in: server URL, user, password; errors explained, retry on the spot."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from huddle_tui import untrusted


@dataclass
class Credentials:
    """What the user typed."""

    server: str
    user: str
    password: str


class LoginScreen(Screen[None]):
    """Asks for the server, the user and the password. Posts `LoginScreen.Submitted`."""

    class Submitted(Message):
        """The user wants to sign in."""

        def __init__(self, credentials: Credentials) -> None:
            super().__init__()
            self.credentials = credentials

    def __init__(self, server: str, user: str, error: str = "") -> None:
        super().__init__()
        self.server = server
        self.user = user
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static("Sign in to Huddle", id="login-title")
            yield Label("Server")
            yield Input(self.server, placeholder="http://127.0.0.1:8080", id="server")
            yield Label("User")
            yield Input(self.user, placeholder="jin.park", id="user")
            yield Label("Password")
            yield Input(password=True, id="password")
            yield Static(Content(untrusted.text(self.error, limit=500)), id="login-error")  # server text
            yield Button("Sign in", variant="primary", id="sign-in")
        yield Footer()

    def on_mount(self) -> None:
        """Start where there is something to type."""
        empty = next((i for i in self.query(Input) if not i.value), self.query_one("#password", Input))
        empty.focus()

    def show_error(self, text: str) -> None:
        """Explain what went wrong; the form stays for a retry."""
        self.query_one("#login-error", Static).update(Content(untrusted.text(text, limit=500)))
        self.query_one("#sign-in", Button).disabled = False
        self.query_one("#password", Input).focus()

    def _submit(self) -> None:
        server = self.query_one("#server", Input).value.strip()
        user = self.query_one("#user", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not server or not user or not password:
            self.show_error("Fill in the server, your user name and your password.")
            return
        if not server.startswith(("http://", "https://")):
            self.show_error(f"{server} is not a server address: it should start with http:// or https://.")
            return
        self.query_one("#login-error", Static).update("Signing in…")
        self.query_one("#sign-in", Button).disabled = True
        self.post_message(self.Submitted(Credentials(server, user, password)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field moves on, or signs in from the last one."""
        event.stop()
        if event.input.id == "password":
            self._submit()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The sign-in button."""
        event.stop()
        self._submit()
