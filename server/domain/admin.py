"""Provisioning for the command line: loading users, teams, workspaces and channels."""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from typing import Any

from server.domain.auth import hash_password, verify_password
from server.domain.clock import Clock
from server.domain.errors import Conflict, Invalid, NotFound
from server.domain.events import ChannelChanged, EventLog, UserCreated
from server.domain.membership import WORKSPACE_STATES
from server.domain.names import check_handle, check_text
from server.store.base import Store, WriteTx


def channel_key(name: str) -> str:
    """Channel names compare after Unicode normalisation and case-folding."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def _text(value: Any, what: str, *, limit: int = 200) -> str:
    return check_text(value, what, "InvalidRequest", limit=limit)


class Admin:
    """Creating users, teams, workspaces and channels (idempotently)."""

    def __init__(self, store: Store, clock: Clock, log: EventLog) -> None:
        self.store = store
        self.clock = clock
        self.log = log

    def ensure_user(
        self,
        tx: WriteTx,
        handle: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        password_hash: str | None = None,
        admin: bool | None = None,
        team: str | None = None,
    ) -> tuple[int, bool]:
        """Create or update a user so it matches; returns (pk, changed). A new user's password may
        come hashed already (`password_hash`, from Auth.hash: off the writer and the event loop)."""
        check_handle(handle, "InvalidHandle")
        now = self.clock.now()
        user = tx.get_user_by_handle(handle)
        changed = False
        if user is None:
            pk = tx.insert_user(
                handle=handle,
                display_name=_text(display_name or handle, "display_name"),
                role="admin" if admin else "member",
                password_hash=password_hash or (hash_password(password) if password else None),
                auto_status="away",
                hide_last_seen=False,
                created_at=now,
            )
            self.log.emit(tx, None, UserCreated(now, handle))
            changed = True
        else:
            pk = user.pk
            values: dict[str, Any] = {}
            if display_name is not None and display_name.strip() != user.display_name:
                values["display_name"] = _text(display_name, "display_name")
            if admin is not None and (user.role == "admin") != admin:
                values["role"] = "admin" if admin else "member"
            if password is not None and not verify_password(password, tx.password_hash(pk)):
                values["password_hash"] = hash_password(password)
            if values:
                tx.update_user(pk, **values)
                changed = True
        if team is not None:
            team_pk, team_changed = self.ensure_team(tx, team, [])
            changed |= tx.add_team_member(team_pk, pk) or team_changed
            current = tx.get_user(pk)
            if current is not None and current.primary_team_pk != team_pk:
                tx.update_user(pk, primary_team_pk=team_pk)
                changed = True
        return pk, changed

    def ensure_team(self, tx: WriteTx, name: str, members: list[str]) -> tuple[int, bool]:
        """Create a team if missing and add members; returns (pk, changed)."""
        name = _text(name, "team name")
        team = tx.get_team_by_name(name)
        changed = False
        if team is None:
            pk = tx.insert_team(name=name, deleted=False, created_at=self.clock.now(), stream_uuid=str(uuid.uuid4()))
            changed = True
        else:
            pk = team.pk
        for handle in members:
            user = tx.get_user_by_handle(handle)
            if user is None:
                raise NotFound("UserNotFound", f"team {name}: no user {handle!r}")
            changed |= tx.add_team_member(pk, user.pk)
        return pk, changed

    def ensure_workspace(self, tx: WriteTx, name: str, members: list[str], state: str | None) -> tuple[int, bool]:
        """Create a workspace if missing, set its state, add members; returns (pk, changed)."""
        name = _text(name, "workspace name")
        if state is not None and state not in WORKSPACE_STATES:
            raise Invalid("InvalidState", f"workspace state must be one of {', '.join(WORKSPACE_STATES)}")
        space = tx.get_workspace_by_name(name)
        changed = False
        if space is None:
            pk = tx.insert_workspace(
                name=name,
                state=state or "active",
                created_at=self.clock.now(),
                stream_uuid=str(uuid.uuid4()),
            )
            changed = True
        else:
            pk = space.pk
            if state is not None and space.state != state:
                tx.update_workspace(pk, state=state)
                changed = True
        for handle in members:
            user = tx.get_user_by_handle(handle)
            if user is None:
                raise NotFound("UserNotFound", f"workspace {name}: no user {handle!r}")
            changed |= tx.add_workspace_member(pk, user.pk)
        return pk, changed

    def ensure_channel(self, tx: WriteTx, name: str, creator_pk: int | None = None) -> tuple[int, bool]:
        """Create a public channel if no channel has that name (compared normalised)."""
        name = _text(name, "channel name", limit=64)
        key = channel_key(name)
        existing = tx.get_channel_by_key(key)
        if existing is not None:
            return existing.pk, False
        now = self.clock.now()
        public_id = "ch_" + secrets.token_hex(6)
        pk = tx.insert_conversation(
            kind="channel",
            public_id=public_id,
            name=name,
            name_key=key,
            creator_pk=creator_pk,
            created_at=now,
            deleted=False,
        )
        self.log.emit(tx, None, ChannelChanged(now, "created", public_id, name))
        return pk, True

    def load(self, data: dict[str, Any]) -> dict[str, int]:
        """Apply a TOML document of users, teams, workspaces and channels; idempotent."""
        known = {"users", "teams", "workspaces", "channels"}
        unknown = set(data) - known
        if unknown:
            raise Invalid("InvalidRequest", f"unknown sections: {', '.join(sorted(unknown))}")
        for section in known:
            if not isinstance(data.get(section, []), list):
                raise Invalid("InvalidRequest", f"[[{section}]] must be an array of tables")

        def run(tx: WriteTx) -> dict[str, int]:
            changed = {"users": 0, "teams": 0, "workspaces": 0, "channels": 0}
            for entry in data.get("users", []):
                _fields(entry, "users", {"handle", "display_name", "password", "team", "admin"})
                _, did = self.ensure_user(
                    tx,
                    entry.get("handle", ""),
                    display_name=entry.get("display_name"),
                    password=entry.get("password"),
                    # No `admin` key leaves the role as it is (a new user is a member).
                    admin=None if entry.get("admin") is None else bool(entry["admin"]),
                    team=entry.get("team"),
                )
                changed["users"] += did
            for entry in data.get("teams", []):
                _fields(entry, "teams", {"name", "members"})
                _, did = self.ensure_team(tx, entry.get("name", ""), list(entry.get("members", [])))
                changed["teams"] += did
            for entry in data.get("workspaces", []):
                _fields(entry, "workspaces", {"name", "members", "state"})
                _, did = self.ensure_workspace(
                    tx, entry.get("name", ""), list(entry.get("members", [])), entry.get("state")
                )
                changed["workspaces"] += did
            for entry in data.get("channels", []):
                _fields(entry, "channels", {"name"})
                _, did = self.ensure_channel(tx, entry.get("name", ""))
                changed["channels"] += did
            return changed

        return self.store.write_sync(run)

    def add_user(self, handle: str, password: str, *, admin: bool, display_name: str | None) -> int:
        """Create a user (the `user add` command)."""

        def run(tx: WriteTx) -> int:
            if tx.get_user_by_handle(handle) is not None:
                raise Conflict("UserExists", f"user {handle!r} already exists")
            pk, _ = self.ensure_user(tx, handle, display_name=display_name, password=password, admin=admin)
            return pk

        return self.store.write_sync(run)

    def set_password(self, handle: str, password: str) -> None:
        """Change a password and revoke the user's tokens (the `user passwd` command)."""

        def run(tx: WriteTx) -> None:
            user = tx.get_user_by_handle(handle)
            if user is None:
                raise NotFound("UserNotFound", f"no user {handle!r}")
            tx.update_user(user.pk, password_hash=hash_password(password))
            tx.revoke_user_tokens(user.pk, self.clock.now())

        self.store.write_sync(run)


def _fields(entry: Any, section: str, allowed: set[str]) -> None:
    if not isinstance(entry, dict):
        raise Invalid("InvalidRequest", f"[[{section}]] entries must be tables")
    extra = set(entry) - allowed
    if extra:
        raise Invalid("InvalidRequest", f"[[{section}]] has unknown keys: {', '.join(sorted(extra))}")
