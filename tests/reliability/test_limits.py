"""The limits of `huddle-server serve`, each behind a flag: connections, body size, rates, streams, field lengths.

Connection limits are checked with raw sockets against the real command (`huddle-server
serve` in a subprocess, small flag values), the rest against conftest's live server.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from websockets.sync.client import connect as ws_connect

from server.cli import _parser
from server.connections import http_protocol
from server.embedded import EmbeddedServer
from server.settings import Settings
from tests.support import LiveServer, load_team
from tests.support.served import Served, connect, read_until_closed

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

DEADLINE = 1.0  # --timeout-request and --timeout-keep-alive of the servers below
REQUEST = b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One real server with small connection limits (heartbeats every second, to watch streams)."""
    server = Served(
        tmp_path_factory.mktemp("limits"),
        f"--timeout-keep-alive={DEADLINE:.0f}",
        f"--timeout-request={DEADLINE}",
        "--max-body-bytes=2048",
        "--heartbeat=6",
    )
    yield server
    server.stop()


def h11_server(db: Path) -> EmbeddedServer:
    """The app embedded (server.embedded) with another HTTP protocol (h11), with the request deadline."""
    load_team(db)
    settings = Settings(db=db, timeout_keep_alive=int(DEADLINE), timeout_request=DEADLINE)
    return EmbeddedServer(settings, http=http_protocol(DEADLINE, base=H11Protocol)).start()


@pytest.fixture(scope="module", params=["httptools", "h11"])
def port(request: pytest.FixtureRequest, served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A server with the request deadline: the real command (httptools), or h11 in a thread."""
    if request.param == "httptools":
        yield served.port
        return
    server = h11_server(tmp_path_factory.mktemp("h11") / "huddle.db")
    yield server.port
    server.stop()


# ---- raw sockets ------------------------------------------------------------------------------
def trickle(sock: socket.socket, data: bytes, every: float) -> tuple[bytes, float, int]:
    """Send one byte at a time; what came back, when the server hung up, and how many bytes it took."""
    start, got = time.monotonic(), b""
    for sent, byte in enumerate(data):
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # reset: the server closed while we were still sending
            return got, time.monotonic() - start, sent
        time.sleep(every)
        sock.setblocking(False)
        try:
            chunk = sock.recv(65536)
            got += chunk
            if not chunk:
                return got, time.monotonic() - start, sent
        except BlockingIOError:
            pass
        except OSError:
            return got, time.monotonic() - start, sent
        finally:
            sock.setblocking(True)
    return got, time.monotonic() - start, len(data)


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    """Connecting and staying silent holds a connection only until the request deadline."""
    with connect(port) as sock:
        data, waited = read_until_closed(sock)
    assert data == b""
    assert DEADLINE * 0.8 <= waited < DEADLINE + 3


def test_an_idle_keep_alive_connection_is_closed(port: int) -> None:
    """After an answer, a connection left idle is closed once --timeout-keep-alive passes."""
    with connect(port) as sock:
        sock.sendall(REQUEST)
        assert read_response(sock).startswith(b"HTTP/1.1 404 ")
        data, waited = read_until_closed(sock)
    assert data == b""
    assert DEADLINE * 0.8 <= waited < DEADLINE + 3


def test_headers_sent_a_byte_at_a_time_are_cut_off(port: int) -> None:
    """Slowloris: a request head trickling in gets 408 and the connection closes at the deadline."""
    with connect(port) as sock:
        got, waited, sent = trickle(sock, REQUEST, every=0.25)
    assert sent < len(REQUEST), "the whole head went through"
    assert got == REQUEST_TIMEOUT
    assert waited < DEADLINE + 3


def test_a_body_sent_a_byte_at_a_time_is_cut_off(port: int) -> None:
    """Slow POST: the head is quick, the body trickles: 408 and closed at the deadline."""
    head = b"POST /api/v2/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    with connect(port) as sock:
        sock.sendall(head + b"Content-Length: 40\r\n\r\n")
        got, waited, sent = trickle(sock, b"x" * 40, every=0.25)
    assert sent < 40
    assert got == REQUEST_TIMEOUT
    assert waited < DEADLINE + 3


def test_a_steady_client_is_not_cut_off(port: int) -> None:
    """One connection, a request every 0.6 s: each is answered, though together they outlast the deadline."""
    with connect(port) as sock:
        start = time.monotonic()
        for _ in range(3):
            sock.sendall(REQUEST)
            assert read_response(sock).startswith(b"HTTP/1.1 404 ")
            time.sleep(0.6)
        assert time.monotonic() - start > DEADLINE
        sock.sendall(REQUEST)
        assert read_response(sock).startswith(b"HTTP/1.1 404 ")


def test_a_request_split_in_quick_parts_is_answered(port: int) -> None:
    """A client writing its request in pieces, well within the deadline, is answered normally."""
    body = json.dumps({"to": "jin.park", "body": "hi"}).encode()
    head = b"POST /api/v2/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    with connect(port) as sock:
        for part in (head, b"Content-Length: %d\r\n\r\n" % len(body), body[:5], body[5:]):
            sock.sendall(part)
            time.sleep(0.1)
        assert read_response(sock).startswith(b"HTTP/1.1 401 ")  # no token: but answered


# ---- long-lived answers outlast the deadline -------------------------------------------------
def test_event_streams_outlast_the_request_deadline(served: Served) -> None:
    """An SSE stream and a WebSocket stay open past --timeout-request: the deadline covers requests only."""
    auth = {"Authorization": f"Bearer {served.token('alex.kim')}"}
    with (
        httpx.Client(base_url=served.url, timeout=10) as client,
        client.stream("GET", "/api/events", headers=auth) as sse,
        ws_connect(served.url.replace("http", "ws") + "/api/events", additional_headers=auth) as ws,
    ):
        assert sse.status_code == 200
        start = time.monotonic()
        for line in sse.iter_lines():  # heartbeats every second; the deadline was 1 s
            if '"heartbeat"' in line and time.monotonic() - start > 2.5 * DEADLINE:
                break
        frames = 0
        while time.monotonic() - start < 3 * DEADLINE or not frames:
            assert json.loads(ws.recv(timeout=5))  # raises if the server closed it
            frames += 1


# ---- body size, concurrency (the command's flags) --------------------------------------------
def test_max_body_bytes_flag_caps_request_bodies(served: Served) -> None:
    """--max-body-bytes 2048: a bigger body is 413 in the dialect's shape; one at the cap goes through."""
    auth = {"Authorization": f"Bearer {served.token('alex.kim')}"}
    over = httpx.post(f"{served.url}/api/v2/messages", headers=auth, json={"to": "jin.park", "body": "x" * 2100})
    assert over.status_code == 413
    assert over.json()["error"] == {"code": "PayloadTooLarge", "message": "the request body is over 2 KiB"}
    body = {"to": "jin.park", "body": ""}
    body["body"] = "x" * (2048 - len(json.dumps(body)))
    headers = {**auth, "Content-Type": "application/json"}
    at = httpx.post(f"{served.url}/api/v2/messages", headers=headers, content=json.dumps(body), timeout=10)
    assert at.status_code == 200, at.text


def test_limit_concurrency_answers_503_past_the_limit(tmp_path: Path) -> None:
    """--limit-concurrency 3: with event streams holding the slots, another request gets 503."""
    server = Served(tmp_path, "--limit-concurrency=3")
    try:
        auth = {"Authorization": f"Bearer {server.token('alex.kim')}"}
        with (
            httpx.Client(base_url=server.url, timeout=10) as a,
            httpx.Client(base_url=server.url, timeout=10) as b,
            a.stream("GET", "/api/events", headers=auth) as one,
            b.stream("GET", "/api/events", headers=auth) as two,
        ):
            assert (one.status_code, two.status_code) == (200, 200)
            refused = httpx.get(f"{server.url}/api/v2/users", headers=auth)
            assert refused.status_code == 503
        deadline = time.monotonic() + 5  # until the server has noticed the streams went away
        while httpx.get(f"{server.url}/api/v2/users", headers=auth).status_code == 503:
            assert time.monotonic() < deadline, "slots not freed after closing the streams"
            time.sleep(0.1)
    finally:
        server.stop()


def test_every_limit_has_a_serve_flag_on_by_default() -> None:
    """`huddle-server serve --help` names each limit; none is off unless asked."""
    args = _parser().parse_args(["serve"])
    defaults = Settings()
    limits = {
        "max_body_bytes": 1024 * 1024,
        "timeout_keep_alive": 30,
        "timeout_request": 20.0,
        "limit_concurrency": 10_000,
        "send_rate": 600,
        "login_rate": 10,
        "max_streams_per_user": 20,
        "mail_max_headers": 200,
        "mail_max_header_bytes": 16 * 1024,
        "mail_max_encoded_words": 200,
        "mail_max_parts": 100,
        "mail_max_multiparts": 10,
        "mail_workers": 1,
        "login_rate_account": 100,
        "login_rate_address": 100,
        "login_tracked_keys": 100_000,
        "hash_workers": 1,
        "esn_data_depth": 32,
    }
    assert {name: getattr(args, name) for name in limits} == limits
    assert {name: getattr(defaults, name) for name in limits} == limits


# ---- rates and streams, in every dialect's shape -----------------------------------------------
def test_failed_logins_are_limited_per_address(make_server: Callable[..., LiveServer]) -> None:
    """--login-rate-address 3: three failures from one address on three handles, then both logins answer 429."""
    server = make_server(login_rate_address=3)
    for handle in ("jin.park", "maya.chen", "sam.ortiz"):
        r = httpx.post(f"{server.url}/api/v2/auth/login", json={"user": handle, "password": "wrong"})
        assert r.status_code == 401
    v2 = httpx.post(f"{server.url}/api/v2/auth/login", json={"user": "alex.kim", "password": "alex-pass"})
    assert (v2.status_code, v2.json()["error"]["code"]) == (429, "RateLimited")
    assert 1 <= int(v2.headers["Retry-After"]) <= 60
    pilcrow = httpx.post(f"{server.url}/api/auth/login", json={"name": "alex.kim", "password": "alex-pass"})
    assert pilcrow.status_code == 429
    assert pilcrow.headers["content-type"].startswith("text/plain")
    assert 1 <= int(pilcrow.headers["Retry-After"]) <= 60


def test_the_send_rate_counts_every_dialect(make_server: Callable[..., LiveServer]) -> None:
    """--send-rate 4: a DM, a channel post, a convo message, an ESN post; the fifth send, anywhere, is 429."""
    server = make_server(send_rate=4)
    alex = server.client("alex.kim")
    jin_pk = alex.get("/api/v2/users/jin.park").json()["id"]
    channel = alex.post("/api/channels", json={"name": "rates"}).json()["id"]
    convo_uri = alex.post("/api/Convo", json={"Participant": jin_pk, "Subject": None}).headers["X-URI-Reference"]
    convo = convo_uri.rsplit("/", 1)[-1]
    stream = alex.get("/api/activitystreams").json()[0]["uuid"]
    post = {"object": {"objectType": "whatsup", "description": "d"}, "targets": [{"id": stream}]}
    sends: list[tuple[str, str, dict[str, Any]]] = [
        ("/api/v2/messages", "v2", {"to": "jin.park", "body": "1"}),
        (f"/api/channels/{channel}", "pilcrow", {"body": "2"}),
        (f"/api/Convo/{convo}/Message", "convos", {"Body": "3"}),
        ("/api/messages", "esn", post),
    ]
    assert [alex.post(path, json=body).status_code for path, _, body in sends] == [200, 202, 201, 201]
    for path, dialect, body in sends:
        r = alex.post(path, json=body)
        assert r.status_code == 429, (dialect, r.text)
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        if dialect == "v2":
            assert r.json()["error"]["code"] == "RateLimited"
        elif dialect == "pilcrow":
            assert r.headers["content-type"].startswith("text/plain")
        elif dialect == "convos":
            assert (r.content, r.headers["X-Result-Code"]) == (b"", "1")
        else:
            assert r.json()["error"]["status"] == 429


def test_the_stream_cap_applies_to_sse_too(make_server: Callable[..., LiveServer]) -> None:
    """--max-streams-per-user 1: a second SSE stream of the same user is 429 with Retry-After: 5."""
    server = make_server(max_streams_per_user=1)
    auth = {"Authorization": f"Bearer {server.token('alex.kim')}"}
    with httpx.Client(base_url=server.url, timeout=10) as client, client.stream("GET", "/api/events", headers=auth):
        second = httpx.get(f"{server.url}/api/events", headers=auth, timeout=10)
        assert (second.status_code, second.headers["Retry-After"]) == (429, "5")
        assert second.text == "too many open event streams for this user"
        other = {"Authorization": f"Bearer {server.token('jin.park')}"}
        with client.stream("GET", "/api/events", headers=other) as jin:
            assert jin.status_code == 200  # the cap is per user


# ---- field lengths (fixed by the contract: not flags) ------------------------------------------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server for the table (each row changes something different)."""
    db = tmp_path_factory.mktemp("lengths") / "huddle.db"
    load_team(db)
    server = LiveServer(Settings(db=db, tick_seconds=0.05), None).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("who", "method", "path", "field", "limit", "extra"),
    [
        ("alex.kim", "POST", "/api/channels/{general}", "body", 64_000, {}),
        ("alex.kim", "PATCH", "/api/v2/users/alex.kim", "display_name", 200, {}),
        ("hr.admin", "POST", "/teams", "name", 100, {}),
        ("hr.admin", "POST", "/workspaces", "name", 100, {}),
        ("alex.kim", "POST", "/api/channels", "name", 64, {}),
        (None, "POST", "/api/invite/{invite}", "password", 1024, {"name": "new.user"}),
        (None, "POST", "/api/invite/{invite}", "name", 64, {"password": "a long password"}),
    ],
)
def test_field_lengths_are_capped(
    shared: LiveServer, who: str | None, method: str, path: str, field: str, limit: int, extra: dict[str, str]
) -> None:
    """One over the limit is refused with 400; at the limit it is accepted."""
    server = shared
    alex = server.client("alex.kim")
    general = alex.get("/api/boot").json()["channels"][0]["id"]
    client = server.client(who) if who else httpx.Client(base_url=server.url)

    def send(length: int) -> httpx.Response:
        invite = alex.post("/api/invite", json={}).json()["id"]
        value = "a" * length if field == "name" and "invite" in path else "x" * length
        url = path.format(general=general, invite=invite)
        return client.request(method, url, json={**extra, field: value})

    over = send(limit + 1)
    assert over.status_code == 400, over.text
    assert send(limit).status_code in (200, 201, 202), "the limit itself is allowed"
