"""Sign-in limits: per account and address, per account, per address; bounded memory; equal work."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.domain.limits import Recent, Window, address_key
from tests.support import LiveServer


def login(server: LiveServer, handle: str, password: str, *, source: str = "127.0.0.1") -> int:
    """The status of one v2 sign-in, made from a loopback address of our choosing."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        r = client.post(f"{server.url}/api/v2/auth/login", json={"user": handle, "password": password})
    return r.status_code


def test_one_address_cannot_lock_the_owner_out_from_elsewhere(make_server: Callable[..., LiveServer]) -> None:
    """--login-rate 3: three wrong guesses from 127.0.0.2 block alex there, even with the right
    password, but not from 127.0.0.1."""
    server = make_server(login_rate=3)
    assert [login(server, "alex.kim", "guess", source="127.0.0.2") for _ in range(3)] == [401] * 3
    assert login(server, "alex.kim", "alex-pass", source="127.0.0.2") == 429
    assert login(server, "alex.kim", "alex-pass", source="127.0.0.1") == 200


def test_the_account_limit_spans_addresses_but_spares_known_ones(make_server: Callable[..., LiveServer]) -> None:
    """--login-rate-account 3: three failures from three addresses block the account from a fourth,
    but not from an address that signed in to it before."""
    server = make_server(login_rate_account=3)
    assert login(server, "alex.kim", "alex-pass", source="127.0.0.9") == 200
    assert [login(server, "alex.kim", "guess", source=f"127.0.0.{i}") for i in (2, 3, 4)] == [401] * 3
    assert login(server, "alex.kim", "alex-pass", source="127.0.0.5") == 429
    assert login(server, "alex.kim", "alex-pass", source="127.0.0.9") == 200
    assert login(server, "jin.park", "jin-pass", source="127.0.0.5") == 200  # the limit is the account's


def test_a_successful_sign_in_is_not_counted(make_server: Callable[..., LiveServer]) -> None:
    """--login-rate 2: five right passwords in a row all succeed, and two wrong ones are still allowed."""
    server = make_server(login_rate=2)
    assert [login(server, "jin.park", "jin-pass") for _ in range(5)] == [200] * 5
    assert [login(server, "jin.park", "wrong") for _ in range(3)] == [401, 401, 429]


def test_a_handle_too_long_to_be_anyone_is_not_kept(make_server: Callable[..., LiveServer]) -> None:
    """Handles over 64 characters are refused (401) without a lookup and counted against the address
    only: the account limiters hold nothing of them."""
    server = make_server(login_rate_address=50)
    auth = server.domain.auth
    statuses = {login(server, f"{i}" + "h" * 100_000, "wrong") for i in range(20)}
    assert statuses == {401}
    assert (len(auth.login_pair), len(auth.login_account), len(auth.login_address)) == (0, 0, 1)


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every scrypt call: the thread it ran on and its cost parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real = hashlib.scrypt

    def spy(password: bytes, **kwargs: Any) -> bytes:
        calls.append((threading.current_thread().name, {k: kwargs[k] for k in ("n", "r", "p", "dklen")}))
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    return calls


def test_known_and_unknown_handles_cost_the_same_off_the_event_loop(
    make_server: Callable[..., LiveServer], scrypt_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    """A wrong password, an unknown handle and a user without a password each cost one scrypt of the
    same parameters, computed on a hashing thread, never on the event loop."""
    team = '[[users]]\nhandle = "alex.kim"\npassword = "alex-pass"\n\n[[users]]\nhandle = "no.password"\n'
    server = make_server(team=team, login_rate=0)
    scrypt_calls.clear()  # loading the team hashed alex's password
    for handle in ("alex.kim", "nobody.at.all", "no.password"):
        assert login(server, handle, "wrong") == 401
    assert len(scrypt_calls) == 3
    assert {thread.startswith("huddle-hash") for thread, _ in scrypt_calls} == {True}
    assert len({tuple(params.items()) for _, params in scrypt_calls}) == 1


def test_setup_and_invitations_hash_off_the_writer_and_the_loop(
    make_server: Callable[..., LiveServer], scrypt_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    """Setting a password through pilcrow (setup, accepting an invitation) hashes on a hashing thread."""
    server = make_server(team=None)
    assert not scrypt_calls
    setup = httpx.post(f"{server.url}/api/setup", json={"name": "ada", "password": "pw"})
    assert setup.status_code == 204
    ada = {"Authorization": f"Bearer {setup.cookies['identity']}"}
    invite = httpx.post(f"{server.url}/api/invite", json={}, headers=ada).json()["id"]
    accepted = httpx.post(f"{server.url}/api/invite/{invite}", json={"name": "bob", "password": "pw"})
    assert accepted.status_code == 200
    assert [thread.startswith("huddle-hash") for thread, _ in scrypt_calls] == [True, True]


# ---- the limiter itself ------------------------------------------------------------------------
def test_a_window_keeps_digests_and_at_most_limit_hits_per_key() -> None:
    """A 900 KB key costs 16 bytes; a key hit 100 times keeps `limit` times."""
    window = Window(3, 60.0)
    for _ in range(100):
        window.hit("k" * 900_000)
    stored = dict(window._hits)
    assert [len(k) for k in stored] == [16]
    assert [len(v) for v in stored.values()] == [3]
    assert window.retry_after("k" * 900_000) > 0
    assert window.retry_after("other") == 0


def test_a_window_tracks_at_most_max_keys_forgetting_the_least_recent() -> None:
    """Past max_keys the key hit least recently goes; a key hit again moves to the back."""
    window = Window(1, 60.0, max_keys=3)
    for key in ("a", "b", "c"):
        window.hit(key)
    window.hit("a")  # a is recent again
    window.hit("d")  # b goes
    assert len(window) == 3
    assert [window.retry_after(k) > 0 for k in ("a", "b", "c", "d")] == [True, False, True, True]


def test_a_window_sweeps_keys_whose_hits_left_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys idle for longer than the window are dropped as new hits come in."""
    now = [1000.0]
    monkeypatch.setattr("server.domain.limits.time.monotonic", lambda: now[0])
    window = Window(2, 60.0)
    for i in range(100):
        window.hit(f"old {i}")
    now[0] += 61
    window.hit("new")
    assert len(window) == 1


def test_a_window_takes_back_a_hit() -> None:
    """unhit removes the newest hit, and the key once it has none."""
    window = Window(1, 60.0)
    window.hit("k")
    assert window.retry_after("k") > 0
    window.unhit("k")
    assert window.retry_after("k") == 0
    assert len(window) == 0


def test_recent_is_bounded() -> None:
    """The set of known (account, address) pairs keeps at most max_keys, the oldest forgotten."""
    recent = Recent(2)
    for key in ("a", "b", "c"):
        recent.add(key)
    assert ["a" in recent, "b" in recent, "c" in recent] == [False, True, True]


def test_addresses_as_counted() -> None:
    """IPv6 counts by its /64; IPv4 (also mapped into IPv6) as it is; anything else as given."""
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("10.0.0.1") == "10.0.0.1"
    assert address_key("unknown") == "unknown"
