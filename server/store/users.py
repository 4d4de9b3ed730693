"""Users and their credentials: accounts, tokens, invitations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update

from server.model import User
from server.store import schema as s
from server.store.rows import Queries, columns, record, records

_U = s.users
_USER = USER_COLUMNS = columns(_U, User)
# Statements of the hot paths (every send, every request), built once: building a Core expression
# costs more than running it.
USER_BY_PK = select(*_USER).where(_U.c.pk == bindparam("pk"))
USER_BY_HANDLE = select(*_USER).where(_U.c.handle == bindparam("handle"))
_USERS_BY_PKS = select(*_USER).where(_U.c.pk.in_(bindparam("pks", expanding=True)))
_ADMINS = select(_U.c.pk).where(_U.c.role == "admin")
_TOKEN = select(s.tokens.c.user_pk, s.tokens.c.last_used_at, s.tokens.c.revoked_at).where(
    s.tokens.c.token_hash == bindparam("token_hash")
)


class UserReads(Queries):
    """Reading users, tokens and invitations."""

    def get_user(self, pk: int) -> User | None:
        """The user with this pk."""
        return record(User, self._first(USER_BY_PK, {"pk": pk}))

    def get_user_by_handle(self, handle: str) -> User | None:
        """The user with this handle."""
        return record(User, self._first(USER_BY_HANDLE, {"handle": handle}))

    def list_users(self) -> list[User]:
        """Every user, by handle."""
        return records(User, self.conn.execute(select(*_USER).order_by(_U.c.handle)))

    def users_by_pk(self, pks: Iterable[int]) -> dict[int, User]:
        """The users with these pks."""
        wanted = list(set(pks))
        if not wanted:
            return {}
        return {u.pk: u for u in records(User, self.conn.execute(_USERS_BY_PKS, {"pks": wanted}))}

    def count_users(self) -> int:
        """How many users exist."""
        return int(self.conn.execute(select(func.count()).select_from(_U)).scalar_one())

    def password_hash(self, pk: int) -> str | None:
        """The stored password hash of a user."""
        return self.conn.execute(select(_U.c.password_hash).where(_U.c.pk == pk)).scalar_one_or_none()

    def users_active_before(self, cutoff: int) -> list[User]:
        """Users whose automatic status is active but whose last activity is older than cutoff."""
        rows = self.conn.execute(
            select(*_USER).where(_U.c.auto_status == "active", or_(_U.c.last_seen.is_(None), _U.c.last_seen < cutoff))
        )
        return records(User, rows)

    def admin_pks(self) -> set[int]:
        """The pks of every admin."""
        return {r[0] for r in self.conn.execute(_ADMINS)}

    # ---- tokens -------------------------------------------------------------------
    def get_token(self, token_hash: str) -> tuple[int, int, int | None] | None:
        """(user_pk, last_used_at, revoked_at) of a token hash."""
        row = self.conn.execute(_TOKEN, {"token_hash": token_hash}).first()
        return (row[0], row[1], row[2]) if row else None

    def live_tokens(self, token_hashes: Iterable[str], used_since: int) -> set[str]:
        """Those of the token hashes that are neither revoked nor unused since `used_since`."""
        t, wanted = s.tokens, list(token_hashes)
        live: set[str] = set()
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(t.c.token_hash).where(
                    t.c.token_hash.in_(wanted[i : i + 500]),
                    t.c.revoked_at.is_(None),
                    t.c.last_used_at >= used_since,
                )
            )
            live.update(row[0] for row in rows)
        return live

    # ---- invitations --------------------------------------------------------------
    def get_invite(self, public_id: str) -> tuple[int, int, int | None] | None:
        """(issuer_pk, issued_at, used_at) of an invitation."""
        i = s.invites
        row = self.conn.execute(
            select(i.c.issuer_pk, i.c.issued_at, i.c.used_at).where(i.c.public_id == public_id)
        ).first()
        return (row[0], row[1], row[2]) if row else None


class UserWrites(UserReads):
    """Changing users, tokens and invitations."""

    def insert_user(self, **values: Any) -> int:
        """Insert a user; returns its pk."""
        return self._new(insert(_U).values(**values))

    def update_user(self, pk: int, **values: Any) -> None:
        """Change columns of a user."""
        self.conn.execute(update(_U).where(_U.c.pk == pk).values(**values))

    def set_away_if_idle(self, pk: int, cutoff: int) -> bool:
        """Turn an automatically active user away if still idle since cutoff (no activity committed since
        it was read, by any process); whether it was."""
        idle = or_(_U.c.last_seen.is_(None), _U.c.last_seen < cutoff)
        done = self.conn.execute(
            update(_U).where(_U.c.pk == pk, _U.c.auto_status == "active", idle).values(auto_status="away")
        )
        return done.rowcount == 1

    def insert_token(self, user_pk: int, token_hash: str, at: int) -> None:
        """Store a new token's hash."""
        self.conn.execute(
            insert(s.tokens).values(user_pk=user_pk, token_hash=token_hash, created_at=at, last_used_at=at)
        )

    def touch_token(self, token_hash: str, at: int) -> None:
        """Record that a token was used."""
        self.conn.execute(update(s.tokens).where(s.tokens.c.token_hash == token_hash).values(last_used_at=at))

    def revoke_token(self, token_hash: str, at: int) -> None:
        """Revoke a token."""
        self.conn.execute(update(s.tokens).where(s.tokens.c.token_hash == token_hash).values(revoked_at=at))

    def revoke_user_tokens(self, user_pk: int, at: int) -> None:
        """Revoke every token of a user."""
        t = s.tokens
        self.conn.execute(update(t).where(t.c.user_pk == user_pk, t.c.revoked_at.is_(None)).values(revoked_at=at))

    def insert_invite(self, public_id: str, issuer_pk: int, at: int) -> None:
        """Record an invitation."""
        self.conn.execute(insert(s.invites).values(public_id=public_id, issuer_pk=issuer_pk, issued_at=at))

    def use_invite(self, public_id: str, user_pk: int, at: int) -> None:
        """Mark an invitation accepted."""
        i = s.invites
        self.conn.execute(update(i).where(i.c.public_id == public_id).values(used_at=at, used_by=user_pk))
