"""The contract every dialect keeps, and the registry that finds the dialect of a request.

A dialect is a plugin: the path prefixes it owns, its router, the HTTP status it gives each kind of
domain error, and the shape of its error answers. Everything else it says (its wire shapes) it
builds in its own module from the domain's records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import ClassVar

from fastapi import APIRouter
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from server.domain.errors import DomainError, Kind

# The HTTP status of each kind of domain error, unless a dialect says otherwise.
STATUSES: Mapping[Kind, int] = {
    Kind.INVALID: 400,
    Kind.UNAUTHORIZED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.GONE: 410,
    Kind.RATE_LIMITED: 429,
}


class Dialect(ABC):
    """One API dialect: where it lives, its routes, and how it answers errors."""

    name: ClassVar[str]
    # Lowercase path prefixes whose requests get this dialect's errors when no route of any dialect
    # matches them (an unknown path, a wrong method, a refusal before routing).
    prefixes: ClassVar[tuple[str, ...]]
    statuses: ClassVar[Mapping[Kind, int]] = STATUSES
    # The status of a request whose body, query or path does not have the shape a route takes.
    validation_status: ClassVar[int] = 400

    def __init__(self, router: APIRouter) -> None:
        self.router = router

    @abstractmethod
    def error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
        """An error answer in this dialect's shape."""

    def status_of(self, exc: DomainError) -> int:
        """The HTTP status this dialect gives a domain error."""
        return self.statuses[exc.kind]

    def domain_error(self, exc: DomainError) -> Response:
        """A domain error (refused, not found, conflict, rate limited…) in this dialect's shape."""
        return self.error(self.status_of(exc), exc.code, exc.message, retry_after=exc.retry_after)


def retry_headers(retry_after: int | None) -> dict[str, str]:
    """`Retry-After`, when there is something to wait for."""
    return {"Retry-After": str(retry_after)} if retry_after else {}


class Dialects:
    """The dialects of one app, in the order their routes are tried, and `fallback` for paths no one owns."""

    def __init__(self, dialects: Iterable[Dialect], fallback: Dialect) -> None:
        self.all = tuple(dialects)
        self.fallback = fallback
        self._by_route: list[tuple[BaseRoute, Dialect]] = [(r, d) for d in self.all for r in d.router.routes]
        self._by_prefix = sorted(
            ((p, d) for d in self.all for p in d.prefixes), key=lambda item: len(item[0]), reverse=True
        )

    def routes(self) -> list[BaseRoute]:
        """Every dialect's routes, in order."""
        return [route for route, _ in self._by_route]

    def of(self, scope: Scope) -> Dialect:
        """The dialect a request belongs to: the one of the route it fully matches, else the one owning
        the longest prefix of its path, else the fallback. Only asked when answering an error."""
        for route, dialect in self._by_route:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return dialect
        path = scope["path"].lower()
        for prefix, dialect in self._by_prefix:
            if path.startswith(prefix):
                return dialect
        return self.fallback
