"""What can go wrong talking to a server, in words for people. No Textual here."""

from __future__ import annotations


class ApiError(Exception):
    """The server refused a request (or answered nonsense); `message` is for people."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def unauthorized(self) -> bool:
        """The token is not (or no longer) valid."""
        return self.status == 401

    @property
    def sentence(self) -> str:
        """The message as a sentence: a capital first, a full stop last."""
        text = self.message.strip() or "The server refused"
        text = text[:1].upper() + text[1:]
        return text if text.endswith((".", "!", "?", "…")) else f"{text}."


class Offline(ApiError):
    """The server could not be reached (or is unavailable behind its proxy): try again later."""


class Unexpected(ApiError):
    """The server answered, but not as a Huddle server does: garbage, a proxy's page, a wrong shape."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"the server sent something unexpected ({detail})", status=status)
        self.detail = detail
