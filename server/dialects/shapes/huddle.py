"""The Huddle presence dialect's answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from server.dialects.shapes.common import (
    CLOSED,
    Errors,
    Handle,
    OffsetTime,
    Responses,
    Status,
    WorkspaceState,
    header,
    responses,
)


@with_config(CLOSED)
class Link(TypedDict):
    """One `links` element."""

    rel: str
    href: str


@with_config(CLOSED)
class HuddlePresence(TypedDict):
    """A presence (OOO) entity."""

    links: list[Link]
    id: int
    isActive: bool
    startDate: OffsetTime | None
    endDate: OffsetTime | None
    message: str | None


@with_config(CLOSED)
class HuddlePresencePage(TypedDict):
    """A page of presence entities with self/first/previous/next links."""

    links: list[Link]
    presenceEntities: list[HuddlePresence]


@with_config(CLOSED)
class HuddleAudit(TypedDict):
    """What a user did to their entries."""

    auditType: Literal["create", "update", "delete"]
    timeStamp: OffsetTime
    context: str


@with_config(CLOSED)
class HuddleAuditPage(TypedDict):
    """A page of audits."""

    links: list[Link]
    audits: list[HuddleAudit]


@with_config(CLOSED)
class HuddleGroupRef(TypedDict):
    """A team or workspace a user belongs to."""

    id: int
    name: str
    href: str


@with_config(CLOSED)
class HuddleUser(TypedDict):
    """A user as the caller may see them (`lastSeen` null when hidden or never seen)."""

    links: list[Link]
    id: int
    user: Handle
    displayName: str
    status: Status
    lastSeen: OffsetTime | None
    teams: list[HuddleGroupRef]
    workspaces: list[HuddleGroupRef]


@with_config(CLOSED)
class HuddleMember(TypedDict):
    """A member of a team or workspace."""

    id: int
    user: Handle
    displayName: str
    links: list[Link]


@with_config(CLOSED)
class HuddleTeam(TypedDict):
    """A team with its members and its activity stream link."""

    links: list[Link]
    id: int
    name: str
    deleted: bool
    members: list[HuddleMember]


@with_config(CLOSED)
class HuddleWorkspace(TypedDict):
    """A workspace with its state, members and activity stream link."""

    links: list[Link]
    id: int
    name: str
    state: WorkspaceState
    members: list[HuddleMember]


@with_config(CLOSED)
class HuddleSummary(TypedDict):
    """A team or workspace in a list."""

    id: int
    name: str
    links: list[Link]


@with_config(CLOSED)
class HuddleTeams(TypedDict):
    """The teams the caller belongs to (admins: all)."""

    links: list[Link]
    teams: list[HuddleSummary]


@with_config(CLOSED)
class HuddleWorkspaces(TypedDict):
    """The workspaces the caller belongs to (admins: all)."""

    links: list[Link]
    workspaces: list[HuddleSummary]


@with_config(CLOSED)
class HuddleError(TypedDict):
    """The Huddle error shape, with the reference's error codes."""

    statusCode: int
    errorCode: str
    errorMessages: list[str]


ERRORS = Errors(model=HuddleError)


def huddle(
    ok: Any = None, *errors: int, status: int = 200, description: str = "Done.", location: bool = False
) -> Responses:
    """A Huddle route (`location`: the answer carries `Content-Location`)."""
    headers = {"Content-Location": header("The entity's URI.")} if location else None
    return responses(ERRORS, ok, errors, status=status, description=description, headers=headers)
