"""Who belongs together: which teams and workspaces are live, and who shares one with whom."""

from __future__ import annotations

from server.model import Team, Workspace
from server.store.base import ReadTx

WORKSPACE_STATES = ("active", "archived", "locked", "deleted")


def team_is_live(deleted: bool | None) -> bool:
    """A team makes mates and has a readable stream until it is deleted."""
    return not deleted


def workspace_is_live(state: str | None) -> bool:
    """A workspace makes mates and has a readable stream unless it is deleted (archived and locked count)."""
    return state != "deleted"


def is_live(group: Team | Workspace) -> bool:
    """Whether a team or workspace is live (see team_is_live, workspace_is_live)."""
    if isinstance(group, Team):
        return team_is_live(group.deleted)
    return workspace_is_live(group.state)


def is_writable(group: Team | Workspace) -> bool:
    """Whether members may post to its stream: a live team, an active workspace."""
    if isinstance(group, Team):
        return team_is_live(group.deleted)
    return group.state == "active"


def mates_of(repo: ReadTx, user_pk: int) -> set[int]:
    """The user and everyone sharing a live team or live workspace with them."""
    mates = {user_pk}
    for team_deleted, workspace_state, pk in repo.co_members(user_pk):
        live = team_is_live(team_deleted) if team_deleted is not None else workspace_is_live(workspace_state)
        if live:
            mates.add(pk)
    return mates
