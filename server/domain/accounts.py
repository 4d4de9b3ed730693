"""First-run setup and invitations (pilcrow's way of creating users)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from server.domain.actors import actor_of
from server.domain.admin import Admin
from server.domain.auth import Auth
from server.domain.clock import Clock
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.names import check_handle
from server.domain.people import People
from server.model import User
from server.store.base import ReadTx, Store, WriteTx

INVITE_LIFETIME_US = 24 * 3600 * 1_000_000


def check_name(name: Any) -> str:
    """A pilcrow name is a handle: say what is wrong with it."""
    return check_handle(name, "InvalidName")


def check_password(password: Any) -> str:
    """Any non-empty password (the KDF does the rest)."""
    if not isinstance(password, str) or not password:
        raise Invalid("InvalidPassword", "a password is required")
    if len(password) > 1024:
        raise Invalid("InvalidPassword", "a password is at most 1024 characters")
    return password


class Accounts:
    """Setup once, then invitations that are accepted once within 24 hours."""

    def __init__(
        self, store: Store, clock: Clock, auth: Auth, admin: Admin, people: People, *, setup_token: str | None
    ) -> None:
        self.store = store
        self.clock = clock
        self.auth = auth
        self.admin = admin
        self.people = people
        # The one-time token `serve` prints: setup from elsewhere than the server's own machine.
        self._setup_token = setup_token

    async def needs_setup(self) -> bool:
        """Whether the server has no user yet."""
        return await self.store.read(lambda repo: repo.count_users() == 0)

    def may_set_up(self, *, local: bool, setup_token: str | None) -> bool:
        """Setup is for the server's own machine (a loopback peer, not through a proxy), or whoever
        holds the setup token that `serve` printed (good for one setup)."""
        if local:
            return True
        expected = self._setup_token
        return bool(expected and setup_token and hmac.compare_digest(setup_token.encode(), expected.encode()))

    async def setup(self, name: Any, password: Any, *, local: bool, setup_token: str | None = None) -> tuple[User, str]:
        """Create the first user (an admin) and sign them in; Conflict once anyone exists, Forbidden
        from elsewhere than the server's machine without the setup token (before any hashing)."""
        name, password = check_name(name), check_password(password)
        if not self.may_set_up(local=local, setup_token=setup_token):
            if not await self.needs_setup():
                raise Conflict("SetupDone", "this server is already set up; sign in instead")
            raise Forbidden(
                "SetupNotAllowed",
                "set this server up from the machine it runs on, or send the setup token that "
                "`huddle-server serve` printed in the X-Setup-Token header",
            )
        digest = await self.auth.hash(password)

        def run(tx: WriteTx) -> tuple[User, str]:
            if tx.count_users() > 0:
                raise Conflict("SetupDone", "this server is already set up; sign in instead")
            pk, _ = self.admin.ensure_user(tx, name, password_hash=digest, admin=True)
            return self._signed_in(tx, pk)

        done = await self.store.write(run)
        self._setup_token = None  # used: one setup only
        return done

    def _signed_in(self, tx: WriteTx, pk: int) -> tuple[User, str]:
        token = self.auth.issue(tx, pk)
        self.people.touch(tx, pk, self.clock.now())
        user = tx.get_user(pk)
        assert user is not None
        return user, token

    async def invite(self, issuer_pk: int) -> tuple[str, User, int]:
        """A new invitation: (id, issuer, issued_at)."""

        def run(tx: WriteTx) -> tuple[str, User, int]:
            now = self.clock.now()
            issuer = actor_of(tx, issuer_pk)
            public_id = "inv_" + secrets.token_urlsafe(12)
            tx.insert_invite(public_id, issuer.pk, now)
            self.people.touch(tx, issuer.pk, now)
            return public_id, issuer, now

        return await self.store.write(run)

    def _open_invite(self, tx: ReadTx, public_id: str) -> tuple[int, int]:
        found = tx.get_invite(public_id) if isinstance(public_id, str) else None
        if found is None or found[2] is not None or self.clock.now() - found[1] > INVITE_LIFETIME_US:
            raise NotFound("InviteNotFound", "this invitation does not exist, was used, or expired")
        return found[0], found[1]

    async def get_invite(self, public_id: str) -> tuple[User, int]:
        """Who issued an open invitation, and when."""

        def run(repo: ReadTx) -> tuple[User, int]:
            issuer_pk, issued_at = self._open_invite(repo, public_id)
            issuer = repo.get_user(issuer_pk)
            assert issuer is not None
            return issuer, issued_at

        return await self.store.read(run)

    async def accept(self, public_id: str, name: Any, password: Any) -> tuple[User, str]:
        """Become a user through an invitation (once); signed in at once."""
        name, password = check_name(name), check_password(password)
        await self.store.read(lambda repo: self._open_invite(repo, public_id))  # no hashing for a bad invitation
        digest = await self.auth.hash(password)

        def run(tx: WriteTx) -> tuple[User, str]:
            self._open_invite(tx, public_id)
            if tx.get_user_by_handle(name) is not None:
                raise Conflict("NameInUse", f"the name {name!r} is taken")
            pk, _ = self.admin.ensure_user(tx, name, password_hash=digest, admin=False)
            tx.use_invite(public_id, pk, self.clock.now())
            return self._signed_in(tx, pk)

        return await self.store.write(run)
