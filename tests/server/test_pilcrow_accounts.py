"""pilcrow setup, sign-in with the identity cookie, logout, invitations."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support import LiveServer, manual_clock


def test_setup_once_then_409(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(team=None)
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/api/setup", json={"name": "Bad Name", "password": "pw"}).status_code == 400
        assert client.post("/api/setup", json={"name": "ada"}).status_code == 422
        r = client.post("/api/setup", json={"name": "ada", "password": "pw"})
        assert r.status_code == 204
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("identity=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        # The cookie works wherever a bearer token does.
        boot = client.get("/api/boot")
        assert boot.status_code == 200
        assert boot.json()["user"] == {"id": "ada", "name": "ada"}
        assert client.get("/api/v2/users/ada").json()["role"] == "admin"
        again = client.post("/api/setup", json={"name": "bob", "password": "pw"})
        assert (again.status_code, again.headers["content-type"].startswith("text/plain")) == (409, True)


def test_login_cookie_and_logout(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as client:  # as its own pages
        bad = client.post("/api/auth/login", json={"name": "alex.kim", "password": "nope"})
        assert (bad.status_code, bad.headers["content-type"].startswith("text/plain")) == (401, True)
        r = client.post("/api/auth/login", json={"name": "alex.kim", "password": "alex-pass"})
        assert r.status_code == 200
        assert r.json() == {"id": "alex.kim", "name": "alex.kim"}
        assert client.get("/api/boot").status_code == 200
        assert client.get("/api/v2/conversations").status_code == 200  # the cookie in another dialect
        out = client.post("/api/auth/logout")
        assert out.status_code == 204
        assert 'identity=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
        assert client.get("/api/boot").status_code == 401


def test_invitation_accepted_once(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T10:00:00Z"))
    alex = server.client("alex.kim")
    made = alex.post("/api/invite", json={})
    assert made.status_code == 200
    invite = made.json()
    assert (invite["issuer"], invite["issued_at"]) == ("alex.kim", "2024-03-15T10:00:00.000000Z")
    with httpx.Client(base_url=server.url) as guest:
        seen = guest.get(f"/api/invite/{invite['id']}").json()
        assert seen["issuer"] == {"id": "alex.kim", "name": "alex.kim"}
        assert guest.post(f"/api/invite/{invite['id']}", json={"name": "No Caps", "password": "x"}).status_code == 400
        assert guest.post(f"/api/invite/{invite['id']}", json={"name": "jin.park", "password": "x"}).status_code == 409
        r = guest.post(f"/api/invite/{invite['id']}", json={"name": "lee.wong", "password": "pw"})
        assert r.status_code == 200
        assert r.json() == {"id": "lee.wong", "name": "lee.wong"}
        assert guest.get("/api/boot").json()["user"]["name"] == "lee.wong"
        assert guest.get(f"/api/invite/{invite['id']}").status_code == 404
        assert guest.post(f"/api/invite/{invite['id']}", json={"name": "kai", "password": "pw"}).status_code == 404
    # Invitations expire after 24 hours.
    late = alex.post("/api/invite", json={}).json()
    server.clock.advance(24 * 3600 + 1)  # type: ignore[union-attr]
    assert httpx.get(f"{server.url}/api/invite/{late['id']}").status_code == 404
    assert httpx.get(f"{server.url}/api/invite/inv_unknown").status_code == 404


@pytest.mark.parametrize("path", ["/api/invite", "/api/auth/logout"])
def test_signed_in_routes_refuse_strangers(server: LiveServer, path: str) -> None:
    r = httpx.post(f"{server.url}{path}", json={})
    assert (r.status_code, r.headers["content-type"].startswith("text/plain")) == (401, True)
