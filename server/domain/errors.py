"""Domain errors: a kind (what went wrong, dialect-neutral) and a code (the v2 name)."""

from __future__ import annotations

STATUS_OF_KIND = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "gone": 410,
    "rate_limited": 429,
}


class DomainError(Exception):
    """A request the rules refuse. Dialects render it in their own shape."""

    kind = "invalid"

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The HTTP status most dialects use for this kind."""
        return STATUS_OF_KIND[self.kind]


class Invalid(DomainError):
    """Bad input (400)."""

    kind = "invalid"


class Unauthorized(DomainError):
    """Missing or bad credentials (401)."""

    kind = "unauthorized"


class Forbidden(DomainError):
    """Known caller, not allowed (403)."""

    kind = "forbidden"


class NotFound(DomainError):
    """Does not exist, or the caller may not know that it does (404)."""

    kind = "not_found"


class Conflict(DomainError):
    """The state does not allow it (409)."""

    kind = "conflict"


class Gone(DomainError):
    """Too old to serve (410)."""

    kind = "gone"


class RateLimited(DomainError):
    """Too many requests (429, with Retry-After)."""

    kind = "rate_limited"
