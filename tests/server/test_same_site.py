"""Same-site safety: the identity cookie only from allowed origins, Host names checked, setup kept local.

No browser is needed: what a page on another origin can make a browser send is a request with
the cookie and that page's `Origin`, and that is what these tests send.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.support import LiveServer, load_team

FOREIGN = "http://127.0.0.1:9999"  # a page on another port of the same machine


def cookie_of(server: LiveServer, handle: str = "alex.kim", password: str = "alex-pass") -> str:
    """The identity cookie of a pilcrow sign-in."""
    r = httpx.post(f"{server.url}/api/auth/login", json={"name": handle, "password": password})
    assert r.status_code == 200
    return str(r.cookies["identity"])


def events_url(server: LiveServer) -> str:
    """The WebSocket event stream."""
    return server.url.replace("http", "ws") + "/api/events"


def test_a_websocket_with_the_cookie_from_a_foreign_origin_is_refused(server: LiveServer) -> None:
    """The handshake a foreign page makes (cookie + its Origin), or one without Origin, is a 403 denial;
    from the server's own origin, or with a bearer token from anywhere, the stream opens."""
    cookie = {"Cookie": f"identity={cookie_of(server)}"}
    for origin in (FOREIGN, "null", None):
        headers = cookie | ({"Origin": origin} if origin else {})
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(events_url(server), additional_headers=headers, open_timeout=10).close()
        assert refused.value.response.status_code == 403
        assert b"identity cookie must come from this server's own pages" in refused.value.response.body
    with ws_connect(events_url(server), additional_headers=cookie | {"Origin": server.url}, open_timeout=10) as ws:
        jin = server.client("jin.park")
        jin.post("/api/v2/messages", json={"to": "alex.kim", "body": "same-site"}).raise_for_status()
        for _ in range(10):  # the DM reaches the stream opened from the server's own page
            if "same-site" in str(ws.recv(timeout=10)):
                break
        else:
            raise AssertionError("the DM never came")
    bearer = {"Authorization": f"Bearer {server.token('alex.kim')}", "Origin": FOREIGN}
    with ws_connect(events_url(server), additional_headers=bearer, open_timeout=10):
        pass


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/invite", "pilcrow"),
        ("/api/auth/logout", "pilcrow"),
        ("/api/v2/activity", "v2"),
        ("/presence/create", "huddle"),
        ("/api/Convo", "convos"),
        ("/api/messages", "esn"),
    ],
)
def test_cookie_writes_from_a_foreign_origin_are_refused_in_the_dialects_shape(
    server: LiveServer, path: str, shape: str
) -> None:
    """A POST with the cookie and a foreign (or no) Origin: 403 in the dialect's shape (Convos: its 401/4)."""
    cookie = {"Cookie": f"identity={cookie_of(server)}"}
    for headers in (cookie | {"Origin": FOREIGN}, cookie):
        r = httpx.post(f"{server.url}{path}", headers=headers)
        if shape == "pilcrow":
            assert (r.status_code, r.headers["content-type"].split(";")[0]) == (403, "text/plain")
            assert "identity cookie must come from this server's own pages" in r.text
        elif shape == "v2":
            assert (r.status_code, r.json()["error"]["code"]) == (403, "ForeignOrigin")
        elif shape == "huddle":
            assert (r.status_code, r.json()["errorCode"]) == (403, "ForeignOrigin")
        elif shape == "convos":
            assert (r.status_code, r.headers["X-Result-Code"], r.content) == (401, "4", b"")
        else:
            assert (r.status_code, r.json()["error"]["status"]) == (403, 403)
    assert httpx.get(f"{server.url}/api/boot", headers=cookie | {"Origin": FOREIGN}).status_code == 200  # reads are not


def test_cookie_writes_from_the_servers_own_or_an_allowed_origin_work(make_server: Callable[..., LiveServer]) -> None:
    """Own origin (scheme and Host), or one given with --allow-origin; a bearer token needs no Origin."""
    server = make_server(allow_origins=["https://chat.example.com/"])
    cookie = {"Cookie": f"identity={cookie_of(server)}"}
    for origin in (server.url, server.url.upper(), "https://chat.example.com", "HTTPS://Chat.Example.com"):
        r = httpx.post(f"{server.url}/api/invite", headers=cookie | {"Origin": origin})
        assert r.status_code == 200, (origin, r.text)
    assert httpx.post(f"{server.url}/api/invite", headers=cookie | {"Origin": "https://chat.example.com:8443"}).is_error
    bearer = {"Authorization": f"Bearer {server.token('jin.park')}", "Origin": FOREIGN}
    assert httpx.post(f"{server.url}/api/invite", headers=bearer).status_code == 200
    assert httpx.post(f"{server.url}/api/v2/activity", headers=bearer).status_code == 204
    out = httpx.post(f"{server.url}/api/auth/logout", headers=cookie | {"Origin": server.url})
    assert out.status_code == 204


# ---- Host ------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1:80/x", "127.0.0.2", ""])
def test_a_host_the_server_does_not_answer_to_is_400(server: LiveServer, host: str) -> None:
    """DNS rebinding: a page of another site resolving to 127.0.0.1 sends its own name as Host."""
    token = server.token("alex.kim")
    v2 = httpx.get(f"{server.url}/api/v2/users", headers={"Host": host, "Authorization": f"Bearer {token}"})
    assert (v2.status_code, v2.json()["error"]["code"]) == (400, "InvalidHost")
    pilcrow = httpx.get(f"{server.url}/api/boot", headers={"Host": host, "Authorization": f"Bearer {token}"})
    assert (pilcrow.status_code, pilcrow.headers["content-type"].split(";")[0]) == (400, "text/plain")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:  # a handshake naming that host
        upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        key = f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {token}\r\n"
        sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}\r\n{upgrade}{key}\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:1", "LOCALHOST", "[::1]:8080"])
def test_loopback_names_are_answered(server: LiveServer, host: str) -> None:
    """The bound host, localhost and loopback addresses, on any port."""
    r = httpx.get(
        f"{server.url}/api/v2/users", headers={"Host": host, "Authorization": f"Bearer {server.token('alex.kim')}"}
    )
    assert r.status_code == 200


def test_allowed_hosts_are_answered_and_only_they_reach_convos_urls(make_server: Callable[..., LiveServer]) -> None:
    """--allowed-hosts chat.example.com (behind a proxy): that name is answered, and Convos' URLs carry it."""
    server = make_server(allowed_hosts=["chat.example.com"])
    alex = server.client("alex.kim")
    jin_pk = alex.get("/api/v2/users/jin.park").json()["id"]
    maya_pk = alex.get("/api/v2/users/maya.chen").json()["id"]
    for participant in (jin_pk, maya_pk):
        alex.post("/api/Convo", json={"Participant": participant, "Subject": None}).raise_for_status()
    page = alex.get("/api/Convo", params={"count": 1}, headers={"Host": "chat.example.com:443"})
    assert page.headers["X-URI-Next-Page"].startswith("http://chat.example.com:443/api/Convo?")
    refused = alex.get("/api/Convo", params={"count": 1}, headers={"Host": "evil.example"})
    assert (refused.status_code, refused.headers["X-Result-Code"]) == (400, "1")
    assert "X-URI-Next-Page" not in refused.headers


# ---- setup ----------------------------------------------------------------------------------
def test_setup_is_for_this_machine_or_the_setup_token(make_server: Callable[..., LiveServer]) -> None:
    """Through a proxy (or from another machine) setup needs the token serve printed; it is good once."""
    server = make_server(team=None, setup_token="the-setup-token")
    body = {"name": "ada", "password": "pw"}
    relayed = {"X-Forwarded-For": "203.0.113.7"}
    refused = httpx.post(f"{server.url}/api/setup", json=body, headers=relayed)
    assert (refused.status_code, refused.headers["content-type"].split(";")[0]) == (403, "text/plain")
    assert "setup token" in refused.text
    wrong = httpx.post(f"{server.url}/api/setup", json=body, headers=relayed | {"X-Setup-Token": "guess"})
    assert wrong.status_code == 403
    done = httpx.post(f"{server.url}/api/setup", json=body, headers=relayed | {"X-Setup-Token": "the-setup-token"})
    assert done.status_code == 204
    assert not server.domain.accounts.may_set_up(local=False, setup_token="the-setup-token")  # used up
    again = httpx.post(f"{server.url}/api/setup", json=body, headers=relayed | {"X-Setup-Token": "the-setup-token"})
    assert again.status_code == 409


def test_setup_without_a_token_is_refused_from_elsewhere(make_server: Callable[..., LiveServer]) -> None:
    """A server started without a setup token (not by serve) can only be set up locally."""
    server = make_server(team=None)
    r = httpx.post(f"{server.url}/api/setup", json={"name": "ada", "password": "pw"}, headers={"Forwarded": "for=x"})
    assert r.status_code == 403
    assert httpx.post(f"{server.url}/api/setup", json={"name": "ada", "password": "pw"}).status_code == 204


@pytest.mark.slow
def test_serve_prints_a_setup_token_only_while_nobody_exists(tmp_path: Path) -> None:
    """`huddle-server serve` on an empty database prints a one-time setup token on stderr; it works from afar."""
    db = tmp_path / "empty" / "huddle.db"
    command = [sys.executable, "-m", "server", "serve", "--db", str(db), "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        url = proc.stdout.readline().split()[-1]
        line = proc.stderr.readline()
        assert "no user yet" in line, line
        token = line.split("X-Setup-Token: ")[1].split()[0]
        relayed = {"X-Forwarded-For": "203.0.113.7"}
        body = {"name": "ada", "password": "pw"}
        assert httpx.post(f"{url}/api/setup", json=body, headers=relayed).status_code == 403
        ok = httpx.post(f"{url}/api/setup", json=body, headers=relayed | {"X-Setup-Token": token})
        assert ok.status_code == 204
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    other = tmp_path / "team" / "huddle.db"
    other.parent.mkdir()
    load_team(other)
    command[5] = str(other)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert httpx.get(f"{url}/api/v2/users", timeout=10).status_code == 401  # started: setup would be printed
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "no user yet" not in err
