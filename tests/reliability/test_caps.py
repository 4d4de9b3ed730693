"""Memory caps of `huddle-server serve` against abuse: request heads, stalled streams, full replays.

Each runs against the real command in a subprocess (`Served`), because what is checked is the
process: its answers on raw sockets, and how much memory it holds (VmRSS).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from server.cli import _parser
from server.connections import http_protocol
from server.embedded import EmbeddedServer
from server.settings import Settings
from tests.support import load_team
from tests.support.served import Served, connect, read_until_closed

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

HEAD_CAP = 16 * 1024  # --max-head-bytes of the server below
TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


def rss_mib(pid: int) -> float:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One real server with a small head cap."""
    server = Served(tmp_path_factory.mktemp("caps"), f"--max-head-bytes={HEAD_CAP}")
    yield server
    server.stop()


def head(size: int, *, whole: bool) -> bytes:
    """A GET whose head is about `size` bytes, made of short header lines; `whole`: with its blank line."""
    lines = b"X-Pad: 0123456789abcdef\r\n" * (size // 25)
    return b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + (b"\r\n" if whole else b"")


@pytest.mark.parametrize("whole", [False, True], ids=["unfinished", "whole"])
def test_a_head_over_the_cap_gets_431_and_the_connection_closes(capped: Served, whole: bool) -> None:
    """Past --max-head-bytes: 431 with a text/plain reason, then the server closes (no waiting for more)."""
    with connect(capped.port) as sock:
        sock.sendall(head(2 * HEAD_CAP, whole=whole))
        data, waited = read_until_closed(sock)
    assert data.startswith(TOO_LARGE), data[:200]
    assert data.endswith(b"the request head (request line and headers) is over 16 KiB")
    assert waited < 5  # closed at once, not at the request deadline (20 s)


def test_a_head_within_the_cap_is_answered(capped: Served) -> None:
    """A head just under the cap, sent in pieces, is an ordinary request."""
    data = head(HEAD_CAP - 200, whole=True)
    with connect(capped.port) as sock:
        for at in range(0, len(data), 4096):
            sock.sendall(data[at : at + 4096])
            time.sleep(0.01)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]


def test_a_websocket_handshake_over_the_cap_gets_431(capped: Served) -> None:
    """The cap holds for upgrades too (the handshake is an HTTP head)."""
    upgrade = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    upgrade += b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    data = head(2 * HEAD_CAP, whole=False).replace(b"GET /nothing", b"GET /api/events") + upgrade + b"\r\n"
    with connect(capped.port) as sock:
        sock.sendall(data)
        answer, _ = read_until_closed(sock)
    assert answer.startswith(TOO_LARGE)


def test_h11_answers_431_too(tmp_path: Path) -> None:
    """Without httptools uvicorn runs h11, which caps unfinished heads itself: its refusal is our 431."""
    db = tmp_path / "huddle.db"
    load_team(db)
    settings = Settings(db=db, max_head_bytes=HEAD_CAP)
    protocol = http_protocol(settings.timeout_request, base=H11Protocol, max_head_bytes=HEAD_CAP)
    server = EmbeddedServer(settings, http=protocol).start()
    try:
        with connect(server.port) as client:
            client.sendall(head(2 * HEAD_CAP, whole=False))
            data, _ = read_until_closed(client)
        assert data.startswith(TOO_LARGE), data[:200]
        with connect(server.port) as client:
            client.sendall(head(HEAD_CAP - 200, whole=True))
            assert client.recv(100).startswith(b"HTTP/1.1 404 ")
    finally:
        server.stop()


def test_a_flood_of_unfinished_heads_does_not_grow_the_server(capped: Served) -> None:
    """20 connections each sending 25 MB of header lines that never end: the server holds a few MiB, not GBs.

    Without the cap the server kept every header (hundreds of MB; 2.3 GB at the peak in
    bench/abuse_caps.py); with it each connection is refused after the cap and reset.
    """
    before = rss_mib(capped.process.pid)
    peak = before
    sent: list[int] = []

    def flood() -> None:
        total = 0
        with connect(capped.port) as sock:
            sock.sendall(b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            lines = b"X-a: b\r\n" * 8192
            try:
                while total < 25 * 1024 * 1024:
                    sock.sendall(lines)
                    total += len(lines)
            except OSError:  # refused: the server closed with our bytes unread
                pass
        sent.append(total)

    threads = [threading.Thread(target=flood) for _ in range(20)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mib(capped.process.pid))
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    assert len(sent) == 20
    assert max(sent) < 25 * 1024 * 1024, "a connection took 25 MB of head"
    assert peak - before < 40, f"RSS {before:.0f} -> {peak:.0f} MiB"
    with socket.create_connection(("127.0.0.1", capped.port), timeout=10) as sock:  # still serving
        sock.sendall(head(100, whole=True))
        assert sock.recv(100).startswith(b"HTTP/1.1 404 ")


# ---- stalled streams ---------------------------------------------------------------------------
def stalled_reader(served: Served, token: str, resume_point: int | None = None) -> ClientConnection:
    """A WebSocket event stream whose client reads only when asked (past one frame, it stops reading the socket)."""
    query = "" if resume_point is None else f"?resume_point={resume_point}"
    url = served.url.replace("http", "ws") + "/api/events" + query
    auth = {"Authorization": f"Bearer {token}"}
    return ws_connect(
        url,
        additional_headers=auth,
        max_queue=1,
        max_size=None,
        open_timeout=10,
        ping_interval=None,
        close_timeout=0.2,
    )


def drop(connection: ClientConnection) -> None:
    """Shut a connection's socket down (the server sees it gone at once)."""
    with contextlib.suppress(OSError):
        connection.socket.shutdown(socket.SHUT_RDWR)


def test_stalled_streams_are_cut_off_and_resume_without_loss(tmp_path: Path) -> None:
    """20 WebSocket readers that stop reading while 200 big DMs (64,000 emoji each) reach them.

    Without a cap each stream kept every frame for its reader (the frames are shared, so the
    server grew by about their size: ~55 MB here, ~0.26 MB a message); past --max-buffered-bytes
    (4 MiB by default) a stream is closed and what it had queued dropped. Nothing is lost: a
    reader that reads again gets what was on its way, then the close, and resuming from its
    last id brings every other message from the log, in order.
    """
    served = Served(tmp_path, "--send-rate=0")
    with contextlib.ExitStack() as stack:
        stack.callback(served.stop)
        alex, jin = served.token("alex.kim"), served.token("jin.park")
        readers = [stack.enter_context(stalled_reader(served, alex)) for _ in range(20)]
        for reader in readers:  # at the end, before they close: no closing handshakes to wait for
            stack.callback(drop, reader)
        body = "😀" * 63_990
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {jin}"}, timeout=30) as http:
            http.post("/api/v2/messages", json={"to": "alex.kim", "body": "warm-up"}).raise_for_status()
            time.sleep(0.5)
            before = rss_mib(served.process.pid)
            sent = []
            for n in range(200):
                r = http.post("/api/v2/messages", json={"to": "alex.kim", "body": f"{n} {body}"})
                r.raise_for_status()
                sent.append(r.json()["message_id"])
            time.sleep(0.5)
            grown = rss_mib(served.process.pid) - before
        assert grown < 25, f"the server grew by {grown:.0f} MiB for 20 stalled streams"

        reader = readers[0]
        got: list[str] = []
        last = 0
        closed = False
        while not closed:
            try:
                frame = json.loads(reader.recv(timeout=10))
            except ConnectionClosed:
                closed = True
                continue
            if "id" in frame:
                last = frame["id"]
                got += [frame["data"]["id"]] if frame["data"].get("type") == "message" else []
        assert len(got) < 200, "the stalled stream was never cut off"
        with stalled_reader(served, alex, resume_point=last) as resumed:
            while len(got) < len(sent) + 1:
                frame = json.loads(resumed.recv(timeout=10))
                if frame.get("data", {}).get("type") == "message":
                    got.append(frame["data"]["id"])
        assert got[1:] == sent  # the warm-up first, then every message once, in order


# ---- parallel full replays ---------------------------------------------------------------------
def test_parallel_full_replays_neither_freeze_nor_bloat_the_server(tmp_path: Path) -> None:
    """Five WebSocket replays from 0 of 250 DMs of 64,000 emoji at once, while another user asks for a user.

    Each replay used to read and encode 500 events of the log in one go on the event loop: the
    other user waited seconds and the server grew by hundreds of MB (bench/abuse_caps.py, 550
    DMs: 5.2 s, +884 MB). Now a replay holds about 1 MiB of the log at a time and lets other
    requests run every 64 KiB it sends. Generous bounds (a shared machine): under 1 s, +150 MiB.
    """
    served = Served(tmp_path, "--send-rate=0")
    try:
        alex, jin, maya = (served.token(h) for h in ("alex.kim", "jin.park", "maya.chen"))
        body = "😀" * 63_990
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {jin}"}, timeout=30) as http:
            for n in range(250):
                http.post("/api/v2/messages", json={"to": "alex.kim", "body": f"{n} {body}"}).raise_for_status()
            newest = http.get("/api/boot").json()["resume_point"]
        time.sleep(0.5)
        before = rss_mib(served.process.pid)
        peak = before
        counts: list[int] = []

        def replay() -> None:
            url = served.url.replace("http", "ws") + "/api/events?resume_point=0"
            auth = {"Authorization": f"Bearer {alex}"}
            seen = 0
            with ws_connect(url, additional_headers=auth, max_size=None, open_timeout=30) as ws:
                while json.loads(ws.recv(timeout=60)).get("id", 0) < newest:
                    seen += 1
            counts.append(seen + 1)

        waits: list[float] = []
        threads = [threading.Thread(target=replay) for _ in range(5)]
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {maya}"}, timeout=30) as probe:
            probe.get("/api/v2/users/jin.park").raise_for_status()
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                start = time.perf_counter()
                probe.get("/api/v2/users/jin.park").raise_for_status()
                waits.append(time.perf_counter() - start)
                peak = max(peak, rss_mib(served.process.pid))
                time.sleep(0.02)
        for thread in threads:
            thread.join()
        assert len(counts) == 5
        assert min(counts) >= 250  # every DM replayed (and the users' events before them)
        assert len(waits) > 10
        assert max(waits) < 1.0, f"a request waited {max(waits):.2f} s during the replays"
        assert peak - before < 150, f"RSS {before:.0f} -> {peak:.0f} MiB"
    finally:
        served.stop()


# ---- flags -------------------------------------------------------------------------------------
def test_every_new_limit_is_a_serve_flag_on_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """The caps and same-site flags are in `serve --help` and docs/API.md; the caps are on unless turned off."""
    caps = {
        "max_head_bytes": 64 * 1024,
        "max_buffered_bytes": 4 * 1024 * 1024,
        "boot_body_bytes": 4096,
        "boot_body_budget": 1024 * 1024,
    }
    args = _parser().parse_args(["serve"])
    assert {name: getattr(args, name) for name in caps} == caps
    assert {name: getattr(Settings(), name) for name in caps} == caps
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--help"])
    shown = capsys.readouterr().out
    docs = (Path(__file__).parents[2] / "docs" / "API.md").read_text()
    for flag in [f"--{name.replace('_', '-')}" for name in caps] + ["--allowed-hosts", "--allow-origin"]:
        assert flag in shown, flag
        assert f"`{flag}" in docs, flag
