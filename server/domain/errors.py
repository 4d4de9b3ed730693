"""Domain errors: a kind (what went wrong, in no dialect's words), a code and a sentence.

Each dialect decides the status and shape of each kind (server.dialects.base.Dialect).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Kind(StrEnum):
    """What went wrong."""

    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    GONE = "gone"
    RATE_LIMITED = "rate_limited"


class DomainError(Exception):
    """A request the rules refuse. `code` names the refusal (the reference's name where it has one)."""

    kind: ClassVar[Kind] = Kind.INVALID

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Invalid(DomainError):
    """Bad input."""

    kind = Kind.INVALID


class Unauthorized(DomainError):
    """Missing or bad credentials."""

    kind = Kind.UNAUTHORIZED


class Forbidden(DomainError):
    """Known caller, not allowed."""

    kind = Kind.FORBIDDEN


class NotFound(DomainError):
    """Does not exist, or the caller may not know that it does."""

    kind = Kind.NOT_FOUND


class Conflict(DomainError):
    """The state does not allow it."""

    kind = Kind.CONFLICT


class Gone(DomainError):
    """Too old to serve."""

    kind = Kind.GONE


class RateLimited(DomainError):
    """Too many requests; `retry_after` says how many seconds to wait."""

    kind = Kind.RATE_LIMITED
