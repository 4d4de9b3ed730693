"""Abuse of request work against the real `huddle-server serve` process: mail, logins, sessions, shutdown.

Each test starts its own server (tests/reliability/test_limits.Served) with the flags it needs.
Nothing is timed against a threshold: what is checked is which answer comes first, which
status each attempt gets, and how much memory the process keeps.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tests.support.served import Served

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

# The mail of the review: a Subject of 20,000 encoded words, 273 KiB.
BIG_MAIL = b"From: M <m@example.com>\r\nSubject: " + b" ".join([b"=?utf-8?q?a?="] * 20_000) + b"\r\n\r\nhello\r\n"


def rss_kib(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stream_of(server: Served, handle: str) -> str:
    """The first activity stream a user may read."""
    auth = {"Authorization": f"Bearer {server.token(handle)}"}
    return str(httpx.get(f"{server.url}/api/activitystreams", headers=auth, timeout=10).json()[0]["uuid"])


def mail_request(token: str, stream: str, mail: bytes) -> bytes:
    """A whole `POST /api/messages/email` request, to write on a raw socket."""
    head = (
        f"POST /api/messages/email?id={stream}&objectType=activitystream HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: message/rfc822\r\n"
        f"Content-Length: {len(mail)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + mail


def newcomer(server: Served) -> str:
    """A user who just accepted an invitation (member of nothing); their session token."""
    admin = {"Authorization": f"Bearer {server.token('hr.admin')}"}
    invite = httpx.post(f"{server.url}/api/invite", json={}, headers=admin, timeout=10).json()["id"]
    r = httpx.post(f"{server.url}/api/invite/{invite}", json={"name": "new.comer", "password": "pw"}, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.cookies["identity"])


# ---- mail ------------------------------------------------------------------------------------
def test_a_mail_is_read_off_the_event_loop(tmp_path: Path) -> None:
    """Bounds off, the 273 KiB Subject keeps the mail worker busy for a while; a request sent meanwhile is
    answered first. (The mail's text is then over 64,000 characters, so its 400 would go out before
    anything else if the reading held up the event loop.)"""
    server = Served(tmp_path, "--mail-max-header-bytes=0", "--mail-max-encoded-words=0")
    try:
        mail = BIG_MAIL + b"x" * 50_000
        request = mail_request(server.token("alex.kim"), stream_of(server, "alex.kim"), mail)
        jin = {"Authorization": f"Bearer {server.token('jin.park')}"}
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(request)
            time.sleep(0.3)  # the mail is in, and being read
            other = httpx.get(f"{server.url}/api/v2/users/jin.park", headers=jin, timeout=60)
            assert other.status_code == 200
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):  # the mail's answer is not there yet
                sock.recv(1)
            sock.setblocking(True)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"the limit is 64000" in answer
    finally:
        server.stop()


def test_the_reviewed_mail_is_refused_before_it_costs_memory(tmp_path: Path) -> None:
    """Default bounds: the newcomer's mail to a stream that does not exist is 403, a member's to their own
    stream 400 MailTooBig; the server's memory barely moves (it grew by gigabytes)."""
    server = Served(tmp_path)
    try:
        token = newcomer(server)
        own = stream_of(server, "alex.kim")
        before = rss_kib(server.process.pid)
        url = f"{server.url}/api/messages/email?objectType=activitystream&id="
        for who, stream, status in ((token, str(uuid.uuid4()), 403), (server.token("alex.kim"), own, 400)):
            headers = {"Authorization": f"Bearer {who}", "Content-Type": "message/rfc822"}
            r = httpx.post(url + stream, content=BIG_MAIL, headers=headers, timeout=60)
            assert r.status_code == status, r.text
            assert r.json()["error"]["status"] == status
        assert rss_kib(server.process.pid) - before < 50 * 1024
    finally:
        server.stop()


# ---- logins ----------------------------------------------------------------------------------
async def _logins(url: str, bodies: list[dict[str, str]], answered: list[float] | None = None) -> list[int]:
    """POST every body to the v2 login at once, one connection each; the statuses (noting when each came)."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one(body: dict[str, str]) -> int:
            r = await client.post(f"{url}/api/v2/auth/login", json=body)
            if answered is not None:
                answered.append(time.monotonic())
            return r.status_code

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def test_concurrent_wrong_passwords_get_exactly_the_limit_of_verdicts(tmp_path: Path) -> None:
    """Default --login-rate 10: of 100 concurrent wrong passwords for one account from one address,
    10 get a 401 verdict and 90 a 429 (all 100 got a verdict before)."""
    server = Served(tmp_path)
    try:
        bodies = [{"user": "alex.kim", "password": f"guess {i}"} for i in range(100)]
        statuses = asyncio.run(_logins(server.url, bodies))
        assert (statuses.count(401), statuses.count(429)) == (10, 90)
    finally:
        server.stop()


def test_password_hashing_does_not_hold_up_other_requests(tmp_path: Path) -> None:
    """Limits off, 40 concurrent sign-ins keep the hashing thread busy (~50 ms each); a request sent
    once the first verdict is out is answered before most of the others (on the event loop, it
    waited for nearly all of them)."""
    off = ("--login-rate=0", "--login-rate-account=0", "--login-rate-address=0")
    server = Served(tmp_path, *off)
    try:
        jin = {"Authorization": f"Bearer {server.token('jin.park')}"}
        answered: list[float] = []
        bodies = [{"user": "alex.kim", "password": f"guess {i}"} for i in range(40)]
        thread = threading.Thread(target=lambda: asyncio.run(_logins(server.url, bodies, answered)))
        thread.start()
        while not answered and thread.is_alive():
            time.sleep(0.005)
        other = httpx.get(f"{server.url}/api/v2/users/jin.park", headers=jin, timeout=120)
        done = time.monotonic()
        thread.join(timeout=120)
        assert other.status_code == 200
        assert len(answered) == 40
        assert sum(t <= done for t in answered) < 20
    finally:
        server.stop()


def test_failed_logins_with_huge_handles_leave_no_memory_behind(tmp_path: Path) -> None:
    """Bursts of 100 concurrent failed sign-ins, each with its own 900 KB handle, all let through to a
    verdict: the server keeps none of the handles (a limiter that kept them grew by 90 MB a burst).
    Measured from after the first burst: the allocator keeps some freed memory for reuse."""
    server = Served(tmp_path, "--login-rate-address=0")
    try:
        after: list[int] = []
        for burst in range(2):
            bodies = [{"user": f"{burst}.{i:03d}" + "h" * 900_000, "password": "wrong"} for i in range(100)]
            assert asyncio.run(_logins(server.url, bodies)) == [401] * 100
            time.sleep(0.5)
            after.append(rss_kib(server.process.pid))
        assert after[1] - after[0] < 40 * 1024, after
    finally:
        server.stop()


# ---- sessions --------------------------------------------------------------------------------
def ws_closed(ws: ClientConnection) -> int | None:
    """The close code once the server closes the socket within a few seconds (a tick is 1 s); None if not."""
    try:
        while True:
            ws.recv(timeout=5)
    except ConnectionClosed:
        return ws.close_code
    except TimeoutError:
        return None


def test_user_passwd_in_another_process_closes_open_streams(tmp_path: Path) -> None:
    """`huddle-server user passwd` revokes a user's tokens from its own process: the serving process
    notices on its next tick and closes the WebSocket (1008) and the SSE stream opened with them;
    a DM sent afterwards never reaches them (it did before)."""
    server = Served(tmp_path)
    try:
        token = server.token("jin.park")
        auth = {"Authorization": f"Bearer {token}"}
        ws_url = server.url.replace("http", "ws") + "/api/events"
        with (
            httpx.Client(base_url=server.url, timeout=10) as client,
            client.stream("GET", "/api/events", headers=auth) as sse,
            ws_connect(ws_url, additional_headers=auth) as ws,
        ):
            assert sse.status_code == 200
            command = [sys.executable, "-m", "server", "user", "passwd", "--db", str(server.db), "jin.park"]
            command.append("--password-stdin")  # a password is never an argument
            subprocess.run(command, input="a new password\n", text=True, check=True, capture_output=True)
            alex = {"Authorization": f"Bearer {server.token('alex.kim')}"}
            assert ws_closed(ws) == 1008
            sent = httpx.post(
                f"{server.url}/api/v2/messages", json={"to": "jin.park", "body": "after passwd"}, headers=alex
            )
            assert sent.status_code == 200
            lines = list(sse.iter_lines())  # ends: the server closed the stream
            assert not any("after passwd" in line for line in lines)
    finally:
        server.stop()


# ---- shutdown --------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_with_streams_open_is_clean(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C (or SIGTERM) with an SSE stream and a WebSocket open: the streams end, the process exits,
    and nothing is logged. (Before, the SSE response held the shutdown until uvicorn's 3 s grace ran
    out, which logged an ERROR and the cancelled task's traceback.)"""
    server = Served(tmp_path)
    auth = {"Authorization": f"Bearer {server.token('alex.kim')}"}
    ws_url = server.url.replace("http", "ws") + "/api/events"
    with (
        httpx.Client(base_url=server.url, timeout=10) as client,
        client.stream("GET", "/api/events", headers=auth) as sse,
        ws_connect(ws_url, additional_headers=auth) as ws,
    ):
        assert sse.status_code == 200
        server.process.send_signal(sig)
        assert list(sse.iter_lines()) == []  # the stream ends (no event came)
        assert ws_closed(ws) is not None
        server.process.wait(timeout=10)
    assert server.process.stderr is not None
    logged = server.process.stderr.read()
    assert "ERROR" not in logged
    assert "Traceback" not in logged
