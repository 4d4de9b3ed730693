"""Resume under churn: subscribers cut off at random keep an exact copy of their event stream.

One server (in-process, real sockets) and a writer thread producing a steady stream of events
(DMs, channel messages, reads, status and name changes, calls). Several subscribers follow the
stream, each as one user over one transport, and are cut off at random moments -- the socket
aborted without a goodbye, often in the middle of an SSE record or a WebSocket frame -- and
resume from the last event id they received:

- `sse-raw`: SSE over a bare socket (HTTP/1.1 and chunked decoding by hand), resuming with
  `Last-Event-ID` (half the time also with a stale `?resume_point=`, which it must win over);
- `sse-httpx`: SSE over httpx, resuming with `Last-Event-ID`;
- `ws-raw`: WebSocket over a bare socket (handshake and framing by hand), `?resume_point=`;
- `ws-lib`: WebSocket with the `websockets` client, `?resume_point=`, its transport aborted.

At the end each subscriber's events must equal the server's log over the same range, as that
user receives it (nothing missing, nothing twice, in order, the same data), the client's fold
(`huddle_tui.store.State`: boot at the start + the events) must equal a fresh boot, and every
aborted stream must be released by the server.

Long runs: `python -m tests.reliability.churn --seconds 60 --subscribers 10`;
`--fault skip|repeat` resumes from id + 1 or id - 1 to see the checks fire.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import random
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from huddle_tui import wire
from huddle_tui.store import State
from server.settings import Settings
from server.store.base import ReadTx
from tests.reliability.crashloop import verdict
from tests.support import LiveServer, load_team

VIEWERS = ["alex.kim", "jin.park", "maya.chen", "sam.ortiz", "hr.admin"]
WRITERS = ["alex.kim", "jin.park", "maya.chen", "sam.ortiz"]
TRANSPORTS = ["sse-raw", "ws-raw", "sse-httpx", "ws-lib"]
TIMEOUT = 10.0
CATCH_UP_SECONDS = 30.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Ev = tuple[int, dict[str, Any]]


@dataclass
class ChurnConfig:
    seconds: float = 5.0
    subscribers: int = 6
    actions_per_second: float = 40.0
    max_connected: float = 0.5  # a subscriber stays connected at most this long before its cut
    seed: int | None = None
    fault: str = "none"  # none | skip (resume from id + 1) | repeat (resume from id - 1)


@dataclass
class Subscriber:
    index: int
    viewer: str
    transport: str
    token: str
    boot: dict[str, Any]
    last_id: int = 0
    goal: int | None = None  # stop once last_id reaches it (set when the writer is done)
    received: list[Ev] = field(default_factory=list)
    connections: int = 0
    cut_mid_frame: int = 0
    heartbeats: int = 0
    problems: list[str] = field(default_factory=list)

    def take(self, event_id: int, data: dict[str, Any]) -> None:
        self.received.append((event_id, data))
        self.last_id = event_id

    @property
    def name(self) -> str:
        return f"#{self.index} {self.viewer} over {self.transport}"


@dataclass
class ChurnFigures:
    seconds: float = 0.0
    actions: int = 0
    events: int = 0  # in the log over the run
    subscribers: int = 0
    resumes: int = 0
    cut_mid_frame: int = 0
    delivered: int = 0
    heartbeats: int = 0
    per_subscriber: list[str] = field(default_factory=list)

    def report(self) -> str:
        return "\n".join(
            [
                f"{self.seconds:.1f} s, {self.actions} writer actions, {self.events} events in the log",
                f"{self.subscribers} subscribers: {self.resumes} resumes ({self.cut_mid_frame} cut mid-frame), "
                f"{self.delivered} events delivered, {self.heartbeats} heartbeats",
                *self.per_subscriber,
            ]
        )


@dataclass
class ChurnOutcome:
    figures: ChurnFigures
    problems: list[str]


class Refused(Exception):
    """The server answered the (re)connection with an error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status


# ---- the writer ---------------------------------------------------------------------------------
class Writer:
    """Steady events from several users, for `seconds`."""

    def __init__(self, url: str, tokens: dict[str, str], cfg: ChurnConfig, seed: int) -> None:
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.http = {
            h: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[h]}"}, timeout=TIMEOUT)
            for h in VIEWERS
        }
        self.actions = 0
        self.problems: list[str] = []

    def run(self) -> None:
        try:
            general = self.http["alex.kim"].get("/api/boot").json()["channels"][0]["id"]
            end = time.monotonic() + self.cfg.seconds
            pause = 1.0 / self.cfg.actions_per_second
            while time.monotonic() < end and self.actions < 1_000_000:
                self.act(general)
                self.actions += 1
                time.sleep(pause * self.rng.uniform(0.2, 1.8))
        except Exception:
            self.problems.append(f"writer crashed:\n{traceback.format_exc()}")
        finally:
            for client in self.http.values():
                client.close()

    def expect(self, r: httpx.Response, *ok: int) -> httpx.Response:
        if r.status_code not in ok:
            self.problems.append(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:200]}")
        return r

    def act(self, general: str) -> None:
        rng = self.rng
        me = rng.choice(WRITERS)
        other = rng.choice([u for u in WRITERS if u != me])
        c = self.http[me]
        roll = rng.random()
        text = rng.choice(["hi", "ok 👍", "line one\nline two", 'quote " and \\ backslash', "x" * rng.randint(1, 3000)])
        if roll < 0.35:
            self.expect(c.post("/api/v2/messages", json={"to": other, "body": text}), 200)
        elif roll < 0.55:
            self.expect(c.post(f"/api/channels/{general}", json={"body": text}), 202)
        elif roll < 0.65:
            newest = c.get("/api/v2/messages", params={"from": other, "limit": 1}).json()["messages"]
            if newest:
                self.expect(c.post(f"/api/v2/messages/{newest[0]['message_id']}/read"), 200)
        elif roll < 0.75:
            self.expect(c.patch(f"/api/v2/users/{me}", json={"status": rng.choice(["dnd", None])}), 200)
        elif roll < 0.80:
            status = rng.choice(["medical_leave", "leave", None])
            self.expect(self.http["hr.admin"].patch(f"/api/v2/users/{me}", json={"status": status}), 200)
        elif roll < 0.85:
            name = rng.choice(["", " (away)", " 🌴"])
            self.expect(c.patch(f"/api/v2/users/{me}", json={"display_name": me.title() + name}), 200)
        else:
            r = self.expect(c.post("/api/v2/calls", json={"to": other, "type": "audio"}), 200, 409)
            if r.status_code == 200:
                call_id = r.json()["call_id"]
                if rng.random() < 0.5:
                    self.expect(self.http[other].post(f"/api/v2/calls/{call_id}/answer"), 200)
                self.expect(c.post(f"/api/v2/calls/{call_id}/end"), 200)


# ---- transports ---------------------------------------------------------------------------------
class Chunked:
    """Decodes an HTTP/1.1 chunked body fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.buf = b""
        self.left = 0
        self.need_crlf = False
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while not self.ended:
            if self.left:
                take = self.buf[: self.left]
                out += take
                self.buf = self.buf[len(take) :]
                self.left -= len(take)
                if self.left:
                    break
                self.need_crlf = True
            if self.need_crlf:
                if len(self.buf) < 2:
                    break
                if self.buf[:2] != b"\r\n":
                    raise ValueError("bad chunk end")
                self.buf = self.buf[2:]
                self.need_crlf = False
            end = self.buf.find(b"\r\n")
            if end < 0:
                break
            size = int(self.buf[:end].split(b";")[0], 16)
            self.buf = self.buf[end + 2 :]
            if size == 0:
                self.ended = True
            self.left = size
        return bytes(out)

    @property
    def partial(self) -> bool:
        return bool(self.buf) or self.left > 0 or self.need_crlf


def sse_records(buf: bytes, sub: Subscriber) -> bytes:
    """Take the complete SSE records out of buf; returns what is left (a partial record)."""
    while b"\n\n" in buf:
        record, buf = buf.split(b"\n\n", 1)
        event_id: int | None = None
        data: dict[str, Any] | None = None
        for line in record.decode().split("\n"):
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is None:
            continue
        if event_id is None:
            if data != {"type": "heartbeat"}:
                sub.problems.append(f"{sub.name}: a record without id: {data}")
            sub.heartbeats += 1
        else:
            sub.take(event_id, data)
    return buf


def ws_event(text: str, sub: Subscriber) -> None:
    frame = json.loads(text)
    if "id" in frame:
        sub.take(int(frame["id"]), frame["data"])
    elif frame == {"type": "heartbeat"}:
        sub.heartbeats += 1
    else:
        sub.problems.append(f"{sub.name}: an unexpected frame {frame}")


class WsFrames:
    """Server-to-client WebSocket frames (unmasked), fed in arbitrary pieces; answers pings."""

    def __init__(self, sub: Subscriber, writer: asyncio.StreamWriter) -> None:
        self.sub = sub
        self.writer = writer
        self.buf = b""
        self.message = b""

    @property
    def partial(self) -> bool:
        return bool(self.buf) or bool(self.message)

    def feed(self, data: bytes) -> bool:
        """False when the stream cannot go on (a close frame, a masked frame)."""
        sub = self.sub
        self.buf += data
        while len(self.buf) >= 2:
            buf = self.buf
            fin, opcode, masked, size = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F
            start = 2
            if size == 126:
                if len(buf) < 4:
                    break
                size, start = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    break
                size, start = int.from_bytes(buf[2:10], "big"), 10
            if masked:
                sub.problems.append(f"{sub.name}: the server masked a frame")
                return False
            if len(buf) < start + size:
                break
            payload, self.buf = buf[start : start + size], buf[start + size :]
            if opcode in (0x1, 0x0):
                self.message += payload
                if fin:
                    ws_event(self.message.decode(), sub)
                    self.message = b""
            elif opcode == 0x9:  # ping: a masked pong
                mask = os.urandom(4)
                masked_payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked_payload)
            elif opcode == 0x8:
                sub.problems.append(f"{sub.name}: the server sent a close frame {payload!r}")
                return False
        return True


async def read_head(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    return int(head.split(b" ", 2)[1]), head


async def sse_raw(sub: Subscriber, port: int, resume: int, cut_at: float, rng: random.Random) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        stale = f"?resume_point={sub.boot['resume_point']}" if rng.random() < 0.5 else ""
        writer.write(
            f"GET /api/events{stale} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {sub.token}\r\n"
            f"Last-Event-ID: {resume}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status, head = await read_head(reader)
        if status != 200:
            raise Refused(status, (await asyncio.wait_for(reader.read(500), TIMEOUT)).decode(errors="replace"))
        chunked = Chunked() if b"transfer-encoding: chunked" in head.lower() else None
        buf = b""
        while (remaining := cut_at - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(rng.randint(1, 700)), remaining)
            except TimeoutError:
                break
            if not data:
                sub.problems.append(f"{sub.name}: the server ended the stream")
                return
            buf = sse_records(buf + (chunked.feed(data) if chunked else data), sub)
        if not buf and rng.random() < 0.6:  # cut inside the next record: a few of its bytes read
            with contextlib.suppress(TimeoutError):
                data = await asyncio.wait_for(reader.read(rng.randint(1, 40)), 0.3)
                buf = sse_records(buf + (chunked.feed(data) if chunked else data), sub)
        sub.cut_mid_frame += bool(buf) or bool(chunked and chunked.partial)
    finally:
        writer.transport.abort()


async def sse_httpx(sub: Subscriber, client: httpx.AsyncClient, resume: int, cut_at: float) -> None:
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {sub.token}", "Last-Event-ID": str(resume)}
    async with client.stream("GET", "/api/events", headers=headers) as r:
        if r.status_code != 200:
            raise Refused(r.status_code, (await r.aread()).decode(errors="replace"))
        chunks = r.aiter_raw()
        buf = b""
        while (remaining := cut_at - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(anext(chunks), remaining)
            except (TimeoutError, StopAsyncIteration):
                break
            buf = sse_records(buf + data, sub)
        sub.cut_mid_frame += bool(buf)
    # Leaving the block unread closes the connection.


async def ws_raw(sub: Subscriber, port: int, resume: int, cut_at: float, rng: random.Random) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /api/events?resume_point={resume} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {sub.token}\r\n\r\n".encode()
        )
        status, head = await read_head(reader)
        if status != 101:
            raise Refused(status, (await asyncio.wait_for(reader.read(500), TIMEOUT)).decode(errors="replace"))
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if f"sec-websocket-accept: {accept}".lower().encode() not in head.lower():
            sub.problems.append(f"{sub.name}: a wrong Sec-WebSocket-Accept")
        frames = WsFrames(sub, writer)
        while (remaining := cut_at - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(rng.randint(1, 700)), remaining)
            except TimeoutError:
                break
            if not data:
                sub.problems.append(f"{sub.name}: the server closed the socket")
                return
            if not frames.feed(data):
                return
        if not frames.partial and rng.random() < 0.6:  # cut inside the next frame: a few of its bytes read
            with contextlib.suppress(TimeoutError):
                frames.feed(await asyncio.wait_for(reader.read(rng.randint(1, 40)), 0.3))
        sub.cut_mid_frame += frames.partial
    finally:
        writer.transport.abort()


async def ws_lib(sub: Subscriber, port: int, resume: int, cut_at: float) -> None:
    loop = asyncio.get_running_loop()
    url = f"ws://127.0.0.1:{port}/api/events?resume_point={resume}"
    try:
        conn = await connect(url, additional_headers={"Authorization": f"Bearer {sub.token}"}, open_timeout=TIMEOUT)
    except InvalidStatus as exc:
        raise Refused(exc.response.status_code, exc.response.body.decode(errors="replace")) from None
    try:
        while (remaining := cut_at - loop.time()) > 0:
            try:
                text = await asyncio.wait_for(conn.recv(), remaining)
            except TimeoutError:
                break
            ws_event(str(text), sub)
    finally:
        conn.transport.abort()  # no close frame: the network went away
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.wait_closed(), TIMEOUT)


async def follow(
    sub: Subscriber, port: int, cfg: ChurnConfig, rng: random.Random, deadline: float, http: httpx.AsyncClient
) -> None:
    """Connect, read a while, get cut off, resume from the last id seen; until the goal is reached."""
    loop = asyncio.get_running_loop()
    for _ in range(100_000):
        if sub.goal is not None and sub.last_id >= sub.goal:
            return
        if loop.time() > deadline:
            sub.problems.append(f"{sub.name}: still at {sub.last_id} (goal {sub.goal}) at the deadline")
            return
        resume = sub.last_id
        if sub.received and cfg.fault != "none":  # faults on purpose, to see the checks fire
            resume += {"skip": 1, "repeat": -1}[cfg.fault]
        cut_at = loop.time() + rng.uniform(0.0, cfg.max_connected)
        sub.connections += 1
        try:
            if sub.transport == "sse-raw":
                await sse_raw(sub, port, resume, cut_at, rng)
            elif sub.transport == "sse-httpx":
                await sse_httpx(sub, http, resume, cut_at)
            elif sub.transport == "ws-raw":
                await ws_raw(sub, port, resume, cut_at, rng)
            else:
                await ws_lib(sub, port, resume, cut_at)
        except Refused as exc:
            sub.problems.append(f"{sub.name}: resuming from {resume} was refused: {exc}")
            return
        except (OSError, httpx.HTTPError, WebSocketException, asyncio.IncompleteReadError) as exc:
            sub.problems.append(f"{sub.name}: {type(exc).__name__}: {exc}")
            return
        if sub.problems:
            return


# ---- the run ------------------------------------------------------------------------------------
def settings_for(db: Path) -> Settings:
    """Heartbeats after 1 s of silence; no stream cap; boot with every message (if windowed)."""
    extra: dict[str, Any] = {}
    if "boot_window" in {f.name for f in dataclasses.fields(Settings)}:
        extra["boot_window"] = 0  # a windowed boot holds fewer messages than boot + events
    return Settings(db=db, tick_seconds=0.05, heartbeat=6, max_streams_per_user=0, send_rate=0, **extra)


def seen_by(server: LiveServer, viewer: str, after: int, upto: int) -> list[Ev]:
    """The events a viewer's stream carries in (after, upto], straight from the log."""
    store = server.domain.store
    user = store.read_sync(lambda r: r.get_user_by_handle(viewer))
    assert user is not None
    out: list[Ev] = []
    for _ in range(100_000):
        events = store.read_sync(partial(ReadTx.events_after, after=after, upto=upto, limit=1000))
        if not events:
            break
        for event in events:
            index = event.for_viewer(user.pk)
            if index is not None:
                out.append((event.id, json.loads(json.dumps(event.variants[index].data))))
        after = events[-1].id
    return out


def boot_of(url: str, token: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/api/boot", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    r.raise_for_status()
    boot: dict[str, Any] = r.json()
    return boot


def summary(state: State) -> dict[str, Any]:
    return {
        "contacts": {h: (c.status, c.last_seen, c.ooo, c.display_name) for h, c in state.contacts.items()},
        "chats": {k: [(m.id, m.sender, m.body, m.read_at) for m in ms] for k, ms in state.chats.items() if ms},
        "channels": {i: c.name for i, c in state.channels.items()},
        "unread": {h: c.unread for h, c in state.contacts.items()},
    }


def run_churn(cfg: ChurnConfig, workdir: Path) -> ChurnOutcome:
    """One churn run on a fresh database in workdir; the server is stopped before this returns."""
    db = workdir / "huddle.db"
    with contextlib.redirect_stderr(io.StringIO()):
        load_team(db)
    server = LiveServer(settings_for(db), None).start()
    try:
        return asyncio.run(_churn(cfg, server))
    finally:
        server.stop()


async def _churn(cfg: ChurnConfig, server: LiveServer) -> ChurnOutcome:
    rng = random.Random(cfg.seed)
    loop = asyncio.get_running_loop()
    tokens = {h: server.token(h) for h in VIEWERS}
    problems: list[str] = []
    subs: list[Subscriber] = []
    for i in range(cfg.subscribers):
        viewer, transport = VIEWERS[i % len(VIEWERS)], TRANSPORTS[i % len(TRANSPORTS)]
        boot = await asyncio.to_thread(boot_of, server.url, tokens[viewer])
        subs.append(Subscriber(i, viewer, transport, tokens[viewer], boot, last_id=int(boot["resume_point"])))
    began = time.monotonic()
    writer = Writer(server.url, tokens, cfg, rng.getrandbits(32))
    writer_thread = threading.Thread(target=writer.run, name="churn-writer", daemon=True)
    deadline = loop.time() + cfg.seconds + CATCH_UP_SECONDS
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        tasks = [
            asyncio.create_task(follow(s, server.port, cfg, random.Random(rng.getrandbits(32)), deadline, http))
            for s in subs
        ]
        writer_thread.start()
        await asyncio.to_thread(writer_thread.join, cfg.seconds + 30)
        problems += writer.problems
        await asyncio.sleep(0.3)  # let the last writes commit
        ends = {v: await asyncio.to_thread(boot_of, server.url, tokens[v]) for v in {s.viewer for s in subs}}
        expected: dict[int, list[Ev]] = {}
        for s in subs:
            upto = int(ends[s.viewer]["resume_point"])
            expected[s.index] = seen_by(server, s.viewer, int(s.boot["resume_point"]), upto)
            s.goal = expected[s.index][-1][0] if expected[s.index] else int(s.boot["resume_point"])
        await asyncio.wait_for(asyncio.gather(*tasks), CATCH_UP_SECONDS + 10)
    figures = ChurnFigures(seconds=time.monotonic() - began, actions=writer.actions, subscribers=len(subs))
    newest = max(int(e["resume_point"]) for e in ends.values())
    figures.events = newest - min(int(s.boot["resume_point"]) for s in subs)

    for s in subs:
        problems += s.problems
        upto = int(ends[s.viewer]["resume_point"])
        got = [(i, d) for i, d in s.received if i <= upto]
        want = expected[s.index]
        got_ids, want_ids = [i for i, _ in got], [i for i, _ in want]
        if got_ids != want_ids:
            missing = sorted(set(want_ids) - set(got_ids))
            twice = sorted({i for i in got_ids if got_ids.count(i) > 1})
            problems.append(
                f"{s.name}: {len(got_ids)} events, the log has {len(want_ids)}; missing {missing[:10]}, "
                f"twice {twice[:10]}, in order {got_ids == sorted(set(got_ids))}"
            )
        elif got != want:
            differ = [i for (i, a), (_, b) in zip(got, want, strict=True) if a != b]
            problems.append(f"{s.name}: events {differ[:10]} differ from the log")
        folded = State()
        folded.apply_boot(wire.boot(s.boot))
        for event_id, data in got:
            folded.apply(event_id, wire.event(data))
        fresh = State()
        fresh.apply_boot(wire.boot(ends[s.viewer]))
        if summary(folded) != summary(fresh):
            a, b = summary(folded), summary(fresh)
            keys = [k for k in a if a[k] != b[k]]
            problems.append(f"{s.name}: boot + events != a fresh boot (in {keys})")
        resumes = max(0, s.connections - 1)
        figures.resumes += resumes
        figures.cut_mid_frame += s.cut_mid_frame
        figures.delivered += len(s.received)
        figures.heartbeats += s.heartbeats
        figures.per_subscriber.append(
            f"  {s.name}: {len(s.received)} events, {resumes} resumes, {s.cut_mid_frame} cut mid-frame"
        )

    # Every aborted stream is released (SSE notices at its next write: a heartbeat within 1 s).
    for _ in range(100):  # 10 s at most
        if not server.domain.hub.subs:
            break
        await asyncio.sleep(0.1)
    if server.domain.hub.subs:
        problems.append(f"{len(server.domain.hub.subs)} streams still open on the server after every client left")
    return ChurnOutcome(figures, problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.churn", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--rate", type=float, default=40.0, help="writer actions per second")
    parser.add_argument("--max-connected", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--fault", choices=("none", "skip", "repeat"), default="none")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    cfg = ChurnConfig(args.seconds, args.subscribers, args.rate, args.max_connected, seed, args.fault)
    tmp = Path(tempfile.mkdtemp(prefix="churn-"))
    try:
        outcome = run_churn(cfg, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"seed {seed}")
    return verdict(outcome.figures.report(), outcome.problems)


if __name__ == "__main__":
    raise SystemExit(main())
