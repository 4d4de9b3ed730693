"""Teams and workspaces: who may look at them, and their management by admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from server.domain.actors import actor_of
from server.domain.clock import Clock
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.membership import WORKSPACE_STATES, is_live
from server.domain.names import check_text
from server.domain.people import People, pk_of
from server.model import Team, User, Workspace
from server.store.base import ReadTx, Store, WriteTx

_STATE_CODES = {"archived": "WorkspaceArchived", "locked": "WorkspaceLocked", "deleted": "WorkspaceDeleted"}


@dataclass(frozen=True, slots=True)
class Group:
    """A team or a workspace with its members."""

    kind: str  # "team" | "workspace"
    record: Team | Workspace
    members: list[User]


def _ref(value: Any, blank_code: str, missing_code: str) -> int:
    text = "" if value is None else str(value).strip()
    if not text:
        raise Invalid(blank_code, "no id was given")
    pk = pk_of(text)
    if pk is None:
        raise NotFound(missing_code, f"no such id {text!r}")
    return pk


def _name(value: Any) -> str:
    return check_text(value, "name", "InvalidRequest", limit=100)


class Groups:
    """Access rules for teams and workspaces, and admin management."""

    def __init__(self, store: Store, clock: Clock, people: People) -> None:
        self.store = store
        self.clock = clock
        self.people = people

    # ---- access (the reference's codes) ----------------------------------------------
    def _team(self, repo: ReadTx, actor: User, ref: Any) -> tuple[Team, list[int]]:
        """A team and its members; TeamNotFound, or TeamMembershipRequired for outsiders (not admins)."""
        team = repo.get_team(_ref(ref, "TeamNotProvided", "TeamNotFound"))
        if team is None:
            raise NotFound("TeamNotFound", f"no team {ref!r}")
        members = repo.team_member_pks(team.pk)
        if not actor.is_admin and actor.pk not in members:
            raise Forbidden("TeamMembershipRequired", "you are not a member of this team")
        return team, members

    def _workspace(self, repo: ReadTx, actor: User, ref: Any) -> tuple[Workspace, list[int]]:
        """A workspace and its members; WorkspaceNotFound, or WorkspaceMembershipRequired for outsiders."""
        space = repo.get_workspace(_ref(ref, "WorkspaceNotProvided", "WorkspaceNotFound"))
        if space is None:
            raise NotFound("WorkspaceNotFound", f"no workspace {ref!r}")
        members = repo.workspace_member_pks(space.pk)
        if not actor.is_admin and actor.pk not in members:
            raise Forbidden("WorkspaceMembershipRequired", "you are not a member of this workspace")
        return space, members

    def team_for(self, repo: ReadTx, actor: User, ref: Any) -> Team:
        """A team the actor may query: not found, membership, then TeamDeleted."""
        team, _ = self._team(repo, actor, ref)
        if team.deleted:
            raise Forbidden("TeamDeleted", "this team is deleted")
        return team

    def workspace_for(self, repo: ReadTx, actor: User, ref: Any) -> Workspace:
        """A workspace the actor may query: not found, membership, then its state."""
        space, _ = self._workspace(repo, actor, ref)
        if space.state in _STATE_CODES:
            raise Forbidden(_STATE_CODES[space.state], f"this workspace is {space.state}")
        return space

    def team_members_for(self, repo: ReadTx, actor: User, ref: Any) -> list[int]:
        """Members of a team the actor may query."""
        return repo.team_member_pks(self.team_for(repo, actor, ref).pk)

    def workspace_members_for(self, repo: ReadTx, actor: User, ref: Any) -> list[int]:
        """Members of a workspace the actor may query."""
        return repo.workspace_member_pks(self.workspace_for(repo, actor, ref).pk)

    # ---- reading ------------------------------------------------------------------
    async def list_for(self, actor_pk: int, kind: str) -> list[Team | Workspace]:
        """The teams (or workspaces) the caller belongs to; admins see all."""

        def run(repo: ReadTx) -> list[Team | Workspace]:
            actor = actor_of(repo, actor_pk)
            if kind == "team":
                teams = repo.list_teams()
                if actor.is_admin:
                    return list(teams)
                mine = {t.pk for t in repo.teams_of([actor.pk]).get(actor.pk, [])}
                return [t for t in teams if t.pk in mine and is_live(t)]
            spaces = repo.list_workspaces()
            if actor.is_admin:
                return list(spaces)
            mine = {w.pk for w in repo.workspaces_of([actor.pk]).get(actor.pk, [])}
            return [w for w in spaces if w.pk in mine and is_live(w)]

        return await self.store.read(run)

    async def get(self, actor_pk: int, kind: str, ref: Any) -> Group:
        """One team or workspace with its members, for members and admins (whatever its state)."""

        def run(repo: ReadTx) -> Group:
            actor = actor_of(repo, actor_pk)
            return self._group(repo, actor, kind, ref)

        return await self.store.read(run)

    def _group(self, repo: ReadTx, actor: User, kind: str, ref: Any) -> Group:
        record, pks = self._team(repo, actor, ref) if kind == "team" else self._workspace(repo, actor, ref)
        users = repo.users_by_pk(pks)
        return Group(kind, record, [users[pk] for pk in pks if pk in users])

    # ---- admin management ---------------------------------------------------------
    def _admin(self, tx: ReadTx, actor_pk: int) -> User:
        actor = actor_of(tx, actor_pk)
        if not actor.is_admin:
            raise Forbidden("InsufficientPermissions", "only an admin can manage teams and workspaces")
        return actor

    def _member_pks(self, tx: ReadTx, refs: Any) -> list[int]:
        if refs is None:
            return []
        if not isinstance(refs, list):
            raise Invalid("InvalidRequest", "members must be a list of user ids or handles")
        pks = []
        for ref in refs:
            text = str(ref).strip()
            pk = pk_of(text)
            user = tx.get_user(pk) if pk is not None else tx.get_user_by_handle(text)
            if user is None:
                raise NotFound("UserNotFound", f"no user {ref!r}")
            pks.append(user.pk)
        return pks

    async def create(self, actor_pk: int, kind: str, body: dict[str, Any]) -> Group:
        """A new team or workspace (admins)."""

        def run(tx: WriteTx) -> Group:
            now = self.clock.now()
            actor = self._admin(tx, actor_pk)
            name = _name(body.get("name"))
            members = self._member_pks(tx, body.get("members"))
            stream = str(uuid.uuid4())
            if kind == "team":
                if tx.get_team_by_name(name) is not None:
                    raise Conflict("TeamNameInUse", f"a team is already called {name!r}")
                pk = tx.insert_team(name=name, deleted=False, creator_pk=actor.pk, created_at=now, stream_uuid=stream)
                for member in members:
                    tx.add_team_member(pk, member)
            else:
                state = body.get("state", "active")
                if state not in WORKSPACE_STATES:
                    raise Invalid("InvalidRequest", f"state must be one of {', '.join(WORKSPACE_STATES)}")
                if tx.get_workspace_by_name(name) is not None:
                    raise Conflict("WorkspaceNameInUse", f"a workspace is already called {name!r}")
                pk = tx.insert_workspace(
                    name=name, state=state, creator_pk=actor.pk, created_at=now, stream_uuid=stream
                )
                for member in members:
                    tx.add_workspace_member(pk, member)
            self.people.touch(tx, actor.pk, now)
            return self._group(tx, actor, kind, pk)

        return await self.store.write(run)

    async def patch(self, actor_pk: int, kind: str, ref: Any, body: dict[str, Any]) -> Group:
        """Rename, delete or restore a team; rename a workspace or change its state (admins)."""

        def run(tx: WriteTx) -> Group:
            actor = self._admin(tx, actor_pk)
            group = self._group(tx, actor, kind, ref)
            values: dict[str, Any] = {}
            if "name" in body:
                values["name"] = _name(body["name"])
            if kind == "team":
                if "deleted" in body:
                    if not isinstance(body["deleted"], bool):
                        raise Invalid("InvalidRequest", "deleted must be true or false")
                    values["deleted"] = body["deleted"]
                other = tx.get_team_by_name(values["name"]) if "name" in values else None
                if other is not None and other.pk != group.record.pk:
                    raise Conflict("TeamNameInUse", f"a team is already called {values['name']!r}")
                if values:
                    tx.update_team(group.record.pk, **values)
            else:
                if "state" in body:
                    if body["state"] not in WORKSPACE_STATES:
                        raise Invalid("InvalidRequest", f"state must be one of {', '.join(WORKSPACE_STATES)}")
                    values["state"] = body["state"]
                other_space = tx.get_workspace_by_name(values["name"]) if "name" in values else None
                if other_space is not None and other_space.pk != group.record.pk:
                    raise Conflict("WorkspaceNameInUse", f"a workspace is already called {values['name']!r}")
                if values:
                    tx.update_workspace(group.record.pk, **values)
            if not values:
                raise Invalid("InvalidRequest", "nothing to change")
            self.people.touch(tx, actor.pk, self.clock.now())
            return self._group(tx, actor, kind, group.record.pk)

        return await self.store.write(run)

    async def membership(self, actor_pk: int, kind: str, ref: Any, user_ref: str, *, add: bool) -> None:
        """Add (PUT) or remove (DELETE) a member (admins)."""

        def run(tx: WriteTx) -> None:
            actor = self._admin(tx, actor_pk)
            group = self._group(tx, actor, kind, ref)
            (member,) = self._member_pks(tx, [user_ref])
            if kind == "team":
                (tx.add_team_member if add else tx.remove_team_member)(group.record.pk, member)
            else:
                (tx.add_workspace_member if add else tx.remove_workspace_member)(group.record.pk, member)
            self.people.touch(tx, actor.pk, self.clock.now())

        await self.store.write(run)
