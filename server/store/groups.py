"""Teams and workspaces, their members, and the activity streams they own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Result, bindparam, delete, insert, null, select, update

from server.model import Team, Workspace
from server.store import schema as s
from server.store.rows import Queries, columns, record, records

T = TypeVar("T")
_T, _W, _TM, _WM = s.teams, s.workspaces, s.team_members, s.workspace_members
_TEAM = columns(_T, Team)
_WORKSPACE = columns(_W, Workspace)
_TEAMS_OF = select(_TM.c.user_pk, *_TEAM).join(_T, _T.c.pk == _TM.c.team_pk).order_by(_T.c.name)
_TEAMS_OF_PKS = _TEAMS_OF.where(_TM.c.user_pk.in_(bindparam("pks", expanding=True)))
_SPACES_OF = select(_WM.c.user_pk, *_WORKSPACE).join(_W, _W.c.pk == _WM.c.workspace_pk).order_by(_W.c.name)
_SPACES_OF_PKS = _SPACES_OF.where(_WM.c.user_pk.in_(bindparam("pks", expanding=True)))


def _co_members_statement() -> Any:
    """Everyone in a team or workspace with the user, with that team's `deleted` or that workspace's `state`."""
    tm, other_tm = _TM, _TM.alias("other_tm")
    in_teams = (
        select(_T.c.deleted.label("deleted"), null().label("state"), other_tm.c.user_pk)
        .join(tm, tm.c.team_pk == other_tm.c.team_pk)
        .join(_T, _T.c.pk == tm.c.team_pk)
        .where(tm.c.user_pk == bindparam("user_pk"))
    )
    wm, other_wm = _WM, _WM.alias("other_wm")
    in_workspaces = (
        select(null(), _W.c.state, other_wm.c.user_pk)
        .join(wm, wm.c.workspace_pk == other_wm.c.workspace_pk)
        .join(_W, _W.c.pk == wm.c.workspace_pk)
        .where(wm.c.user_pk == bindparam("user_pk"))
    )
    return in_teams.union_all(in_workspaces)


_CO_MEMBERS = _co_members_statement()


def _per_user(rows: Result[Any], cls: type[T]) -> dict[int, list[T]]:
    """Rows of a member's pk and a group's columns as each user's groups, each group made once."""
    made: dict[tuple[Any, ...], T] = {}
    out: dict[int, list[T]] = {}
    for row in rows.all():
        values: tuple[Any, ...] = tuple(row[1:])
        group = made.get(values)
        if group is None:
            group = made[values] = cls(*values)
        out.setdefault(row[0], []).append(group)
    return out


class GroupReads(Queries):
    """Reading teams, workspaces and memberships."""

    def get_team(self, pk: int) -> Team | None:
        """The team with this pk."""
        return record(Team, self.conn.execute(select(*_TEAM).where(_T.c.pk == pk)).first())

    def get_team_by_name(self, name: str) -> Team | None:
        """The team with this name."""
        return record(Team, self.conn.execute(select(*_TEAM).where(_T.c.name == name)).first())

    def get_workspace(self, pk: int) -> Workspace | None:
        """The workspace with this pk."""
        return record(Workspace, self.conn.execute(select(*_WORKSPACE).where(_W.c.pk == pk)).first())

    def get_workspace_by_name(self, name: str) -> Workspace | None:
        """The workspace with this name."""
        return record(Workspace, self.conn.execute(select(*_WORKSPACE).where(_W.c.name == name)).first())

    def list_teams(self) -> list[Team]:
        """Every team, by name."""
        return records(Team, self.conn.execute(select(*_TEAM).order_by(_T.c.name)))

    def list_workspaces(self) -> list[Workspace]:
        """Every workspace, by name."""
        return records(Workspace, self.conn.execute(select(*_WORKSPACE).order_by(_W.c.name)))

    def team_member_pks(self, team_pk: int) -> list[int]:
        """The members of a team."""
        rows = self.conn.execute(select(_TM.c.user_pk).where(_TM.c.team_pk == team_pk).order_by(_TM.c.user_pk))
        return [r[0] for r in rows]

    def workspace_member_pks(self, workspace_pk: int) -> list[int]:
        """The members of a workspace."""
        rows = self.conn.execute(
            select(_WM.c.user_pk).where(_WM.c.workspace_pk == workspace_pk).order_by(_WM.c.user_pk)
        )
        return [r[0] for r in rows]

    def teams_of(self, user_pks: Sequence[int] | None = None) -> dict[int, list[Team]]:
        """Teams per user (all users when None), by team name."""
        if user_pks is None:
            return _per_user(self.conn.execute(_TEAMS_OF), Team)
        return _per_user(self.conn.execute(_TEAMS_OF_PKS, {"pks": list(user_pks)}), Team)

    def workspaces_of(self, user_pks: Sequence[int] | None = None) -> dict[int, list[Workspace]]:
        """Workspaces per user (all users when None), by name."""
        if user_pks is None:
            return _per_user(self.conn.execute(_SPACES_OF), Workspace)
        return _per_user(self.conn.execute(_SPACES_OF_PKS, {"pks": list(user_pks)}), Workspace)

    def co_members(self, user_pk: int) -> list[tuple[bool | None, str | None, int]]:
        """Everyone who shares a team or a workspace with the user (the user too), whatever its state:
        (that team's `deleted`, None, pk) or (None, that workspace's `state`, pk)."""
        return [(r[0], r[1], r[2]) for r in self.conn.execute(_CO_MEMBERS, {"user_pk": user_pk})]

    def get_stream_owner(self, stream_uuid: str) -> Team | Workspace | None:
        """The team or workspace owning an activity stream."""
        team = record(Team, self.conn.execute(select(*_TEAM).where(_T.c.stream_uuid == stream_uuid)).first())
        if team is not None:
            return team
        return record(Workspace, self.conn.execute(select(*_WORKSPACE).where(_W.c.stream_uuid == stream_uuid)).first())


class GroupWrites(GroupReads):
    """Changing teams, workspaces and memberships."""

    def insert_team(self, **values: Any) -> int:
        """Insert a team; returns its pk."""
        return self._new(insert(_T).values(**values))

    def update_team(self, pk: int, **values: Any) -> None:
        """Change columns of a team."""
        self.conn.execute(update(_T).where(_T.c.pk == pk).values(**values))

    def insert_workspace(self, **values: Any) -> int:
        """Insert a workspace; returns its pk."""
        return self._new(insert(_W).values(**values))

    def update_workspace(self, pk: int, **values: Any) -> None:
        """Change columns of a workspace."""
        self.conn.execute(update(_W).where(_W.c.pk == pk).values(**values))

    def add_team_member(self, team_pk: int, user_pk: int) -> bool:
        """Add a member; False if already one."""
        where = (_TM.c.team_pk == team_pk, _TM.c.user_pk == user_pk)
        if self.conn.execute(select(_TM.c.user_pk).where(*where)).first():
            return False
        self.conn.execute(insert(_TM).values(team_pk=team_pk, user_pk=user_pk))
        return True

    def add_workspace_member(self, workspace_pk: int, user_pk: int) -> bool:
        """Add a member; False if already one."""
        where = (_WM.c.workspace_pk == workspace_pk, _WM.c.user_pk == user_pk)
        if self.conn.execute(select(_WM.c.user_pk).where(*where)).first():
            return False
        self.conn.execute(insert(_WM).values(workspace_pk=workspace_pk, user_pk=user_pk))
        return True

    def remove_team_member(self, team_pk: int, user_pk: int) -> bool:
        """Remove a member; False if not one."""
        result = self.conn.execute(delete(_TM).where(_TM.c.team_pk == team_pk, _TM.c.user_pk == user_pk))
        return bool(result.rowcount)

    def remove_workspace_member(self, workspace_pk: int, user_pk: int) -> bool:
        """Remove a member; False if not one."""
        result = self.conn.execute(delete(_WM).where(_WM.c.workspace_pk == workspace_pk, _WM.c.user_pk == user_pk))
        return bool(result.rowcount)
