"""The live event stream: SSE and WebSocket, per-viewer filtering, exact resume, 410, heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.streams import StreamReader

from tests.support import LiveServer, manual_clock
from tests.support.events import SSE, TIMEOUT, WS, Ev, collect


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """These routes answer the same on SQLite and on PostgreSQL."""
    return str(request.param)


def kinds(events: list[Ev]) -> list[str]:
    return [f"{d['type']} {d['event']}" for _, d in events]


def is_no_answer(data: dict[str, Any]) -> bool:
    return bool(data.get("type") == "call" and data.get("event") == "no_answer")


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


def story_actions(server: LiveServer, alex: httpx.Client, jin: httpx.Client) -> dict[str, Any]:
    """DM, read, everyone idles away, a call nobody answers."""
    sent = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "you there?"}).json()
    assert jin.post(f"/api/v2/messages/{sent['message_id']}/read").status_code == 200
    server.clock.advance(301)  # type: ignore[union-attr]
    server.call(server.domain.tick())
    call = alex.post("/api/v2/calls", json={"to": "jin.park", "type": "audio"}).json()
    server.clock.advance(31)  # type: ignore[union-attr]
    server.call(server.domain.tick())
    return {"message_id": sent["message_id"], "call_id": call["call_id"]}


def expected(signed_in: int) -> list[str]:
    """What a party of the DM and the call sees when `signed_in` users idle away meanwhile."""
    return [
        "message sent",
        "message read",
        *["presence changed"] * signed_in,  # everyone idles away
        "call ringing",
        "presence changed",  # calling is activity: alex is back
        "call no_answer",
    ]


async def test_sse_and_websocket_receive_the_same_story_in_order(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T15:00:00Z"))
    alex, jin, sam = server.client("alex.kim"), server.client("jin.park"), server.client("sam.ortiz")
    tokens = {n: c.headers["Authorization"].split()[1] for n, c in (("alex", alex), ("jin", jin), ("sam", sam))}
    point = alex.get("/api/boot").json()["resume_point"]

    async with (
        SSE(server, tokens["alex"], resume_point=point) as a,
        WS(server, tokens["jin"], resume_point=point) as j,
        SSE(server, tokens["sam"], resume_point=point) as s,
    ):
        ids = await in_thread(lambda: story_actions(server, alex, jin))
        got_a = await collect(a, is_no_answer)
        got_j = await collect(j, is_no_answer)
        # Sam sees presence only: three flips to away, and alex back.
        got_s: list[Ev] = []
        while len(got_s) < 4:
            got_s += await collect(s, lambda d: d["type"] == "presence")

    assert kinds(got_a) == expected(signed_in=3)
    assert got_a == got_j  # same ids, same data, SSE and WebSocket alike
    event_ids = [i for i, _ in got_a]
    assert event_ids == sorted(event_ids)
    assert len(set(event_ids)) == len(event_ids)
    sent = got_a[0][1]
    assert (sent["id"], sent["sender"], sent["to"], sent["body"]) == (
        ids["message_id"],
        "alex.kim",
        "jin.park",
        "you there?",
    )
    assert got_a[1][1]["reader"] == "jin.park"
    assert {d["user"] for _, d in got_a[2:5]} == {"alex.kim", "jin.park", "sam.ortiz"}
    assert all(d["status"] == "away" for _, d in got_a[2:5])
    assert got_a[-1][1]["call_id"] == ids["call_id"]
    assert got_a[-1][1]["duration_seconds"] == 0
    # The third user receives none of the DM's or the call's events.
    assert kinds(got_s) == ["presence changed"] * 4
    assert not any(d["type"] in ("message", "call") for _, d in got_s)


@pytest.mark.parametrize("transport", ["sse", "ws"])
async def test_resume_gets_exactly_what_was_missed(make_server: Callable[..., LiveServer], transport: str) -> None:
    server = make_server(clock=manual_clock("2024-03-15T15:00:00Z"))
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    token = alex.headers["Authorization"].split()[1]
    point = alex.get("/api/boot").json()["resume_point"]

    def open_stream(after: int, *, header: bool = False) -> SSE | WS:
        if transport == "sse":
            return SSE(server, token, last_id=after) if header else SSE(server, token, resume_point=after)
        return WS(server, token, resume_point=after)

    # A reference subscriber that never disconnects.
    async with open_stream(point) as reference:
        async with open_stream(point) as first:
            await in_thread(lambda: alex.post("/api/v2/messages", json={"to": "jin.park", "body": "one"}))
            seen = await collect(first, lambda d: d["type"] == "message")
        # Disconnected: things happen meanwhile.
        await in_thread(lambda: story_actions(server, alex, jin))
        last = seen[-1][0]
        # SSE resumes with Last-Event-ID, and it wins over a stale resume_point.
        async with open_stream(last, header=True) as second:
            rest = await collect(second, is_no_answer)
        everything = await collect(reference, is_no_answer)

    assert seen + rest == everything
    assert len({i for i, _ in seen + rest}) == len(seen + rest)  # no duplicates
    assert kinds(rest) == expected(signed_in=2)


async def test_last_event_id_wins_over_resume_point(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    token = alex.headers["Authorization"].split()[1]
    point = alex.get("/api/boot").json()["resume_point"]
    first = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "first"}).json()
    alex.post("/api/v2/messages", json={"to": "jin.park", "body": "second"})
    async with SSE(server, token, resume_point=point, last_id=point + 1) as stream:
        got = await collect(stream, lambda d: d.get("body") == "second")
    assert first["message_id"] not in [d.get("id") for _, d in got]
    assert [d["body"] for _, d in got if d["type"] == "message"] == ["second"]


async def test_too_old_or_future_resume_point_is_410(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T15:00:00Z"), event_retention=60)
    alex = server.client("alex.kim")
    token = alex.headers["Authorization"].split()[1]
    newest = alex.get("/api/boot").json()["resume_point"]
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        r = await client.get("/api/events", params={"resume_point": newest + 100})
        assert r.status_code == 410
        assert r.headers["content-type"].startswith("text/plain")
        # Everything ages out of the retained log.
        server.clock.advance(3600)  # type: ignore[union-attr]
        server.domain._last_prune = 0  # prune on this tick
        server.call(server.domain.tick())
        r = await client.get("/api/events", params={"resume_point": 0})
        assert r.status_code == 410
        assert "boot again" in r.text
        r = await client.get("/api/events", params={"resume_point": "abc"})
        assert r.status_code == 400
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            server.url.replace("http", "ws") + "/api/events?resume_point=0",
            additional_headers={"Authorization": f"Bearer {token}"},
        )
    assert refused.value.response.status_code == 410
    # A fresh boot gives a point that works.
    point = alex.get("/api/boot").json()["resume_point"]
    async with SSE(server, token, resume_point=point) as stream:
        await in_thread(lambda: alex.post("/api/v2/messages", json={"to": "jin.park", "body": "after"}))
        got = await collect(stream, lambda d: d["type"] == "message")
    assert got[-1][1]["body"] == "after"


async def test_heartbeats_when_idle(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(heartbeat=6)  # heartbeat after max(1, 6 - 5) = 1 s of silence
    alex = server.client("alex.kim")
    token = alex.headers["Authorization"].split()[1]
    async with SSE(server, token) as sse, WS(server, token) as ws:
        assert await sse.next() == (None, {"type": "heartbeat"})
        assert await ws.next() == (None, {"type": "heartbeat"})


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
async def test_websocket_with_bad_credentials_is_refused_in_the_handshake(
    server: LiveServer, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.url.replace("http", "ws") + "/api/events", additional_headers=headers)
    assert refused.value.response.status_code == 401


async def test_activity_frame_on_the_websocket_moves_last_seen(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T15:00:00Z"))
    jin = server.client("jin.park")
    alex = server.client("alex.kim")
    token = jin.headers["Authorization"].split()[1]
    server.clock.advance(600)  # type: ignore[union-attr]
    server.call(server.domain.tick())
    assert alex.get("/api/v2/users/jin.park/status").json()["status"] == "away"
    async with WS(server, token) as ws:
        assert ws.conn is not None
        await ws.conn.send(json.dumps({"type": "activity"}))
        got = await collect(ws, lambda d: d["type"] == "presence" and d["user"] == "jin.park")
    assert got[-1][1]["status"] == "active"
    status = alex.get("/api/v2/users/jin.park/status").json()
    assert (status["status"], status["last_seen"]) == ("active", "2024-03-15T15:10:00Z")


async def test_stream_cap_per_user(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(max_streams_per_user=2)
    alex = server.client("alex.kim")
    token = alex.headers["Authorization"].split()[1]
    async with WS(server, token), WS(server, token):
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                server.url.replace("http", "ws") + "/api/events",
                additional_headers={"Authorization": f"Bearer {token}"},
            )
        assert refused.value.response.status_code == 429
    # Closing frees the slots (once the server has noticed the sockets went away).
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        try:
            async with WS(server, token):
                break
        except InvalidStatus:
            assert asyncio.get_running_loop().time() < deadline, "slots not freed after closing"
            await asyncio.sleep(0.1)


async def test_a_subscription_wakes_for_frames_and_is_cut_off_when_too_far_behind(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's side of a stream, without HTTP: a waiting reader wakes for each frame and for
    close; a reader that falls QUEUE_LIMIT frames behind is cut off, and what was queued for it
    is dropped at once (its client resumes from the last frame it took: 1)."""
    from server import events
    from server.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "h.db")
    hub = events.Hub(store)
    try:
        sub = await hub.subscribe(1, None)
        waiting = asyncio.create_task(sub.next(60))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        sub.push(events.Frame(1, '{"n":1}'))
        assert (await asyncio.wait_for(waiting, TIMEOUT)).id == 1  # type: ignore[union-attr]

        monkeypatch.setattr(events, "QUEUE_LIMIT", 3)
        for n in range(2, 6):
            sub.push(events.Frame(n, f'{{"n":{n}}}'))
        assert sub.closed
        assert sub not in hub.subs
        assert (len(sub.frames), sub.queued_bytes, sub.last_id) == (1, 0, 1)  # only the end mark
        with pytest.raises(events.Closed):
            await sub.next(60)

        other = await hub.subscribe(2, None)
        waiting = asyncio.create_task(other.next(60))
        await asyncio.sleep(0.01)
        other.close()
        with pytest.raises(events.Closed):
            await asyncio.wait_for(waiting, TIMEOUT)
    finally:
        store.close()


def text_of(wire: bytes) -> str:
    """The text of one whole unmasked WebSocket text frame, read by the websockets parser."""
    reader = StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    parser = WsFrame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as parsed:
        next(parser)
    frame: WsFrame = parsed.value.value
    assert (frame.opcode, frame.fin) == (Opcode.TEXT, True)
    assert not reader.buffer  # nothing after the frame
    return frame.data.decode()


async def test_a_caught_up_subscription_writes_frames_itself_and_keeps_their_order(tmp_path: Any) -> None:
    """With a frame writer (FrameWriter's, through the transport), push() writes a frame straight to
    the socket only while the reader waits with nothing queued; otherwise, or when the socket is not
    keeping up or the write fails, the frame is queued behind the others and the reader sends it."""
    from server import events
    from server.dialects.transport import ws_writer
    from server.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "h.db")
    hub = events.Hub(store)
    written: list[bytes] = []
    keeping_up = True
    broken = False

    def write(frame: bytes) -> bool:
        if broken:
            raise ConnectionResetError
        if keeping_up:
            written.append(frame)
        return keeping_up

    def frame(n: int) -> events.Frame:
        return events.Frame(n, f'{{"n":{n},"pad":"{"x" * 200}"}}')

    try:
        sub = await hub.subscribe(1, None)
        sub.write = ws_writer(write)
        sub.push(frame(1))  # the reader has not asked yet: queued
        assert written == []
        assert (await sub.next(60)).id == 1  # type: ignore[union-attr]

        waiting = asyncio.create_task(sub.next(60))
        await asyncio.sleep(0.01)
        sub.push(frame(2))  # caught up and waiting: written at once
        sub.push(frame(2))  # a frame it already has is dropped
        sub.push(events.BEAT)  # a due heartbeat is written as one
        assert [json.loads(text_of(b)) for b in written] == [
            {"id": 2, "data": {"n": 2, "pad": "x" * 200}},
            {"type": "heartbeat"},
        ]
        assert not waiting.done()
        assert sub.last_id == 2

        keeping_up = False
        sub.push(frame(3))  # the socket is not keeping up: queued, and the reader wakes
        keeping_up = True
        sub.push(frame(4))  # the reader has not sent 3 yet: 4 waits behind it
        assert len(written) == 2
        assert (await asyncio.wait_for(waiting, TIMEOUT)).id == 3  # type: ignore[union-attr]
        assert (await sub.next(60)).id == 4  # type: ignore[union-attr]

        broken = True  # a writer that fails leaves the frame to the reader, which meets the trouble
        waiting = asyncio.create_task(sub.next(60))
        await asyncio.sleep(0.01)
        sub.push(frame(5))
        assert (await asyncio.wait_for(waiting, TIMEOUT)).id == 5  # type: ignore[union-attr]
    finally:
        store.close()


async def test_a_websocket_reader_that_stalls_still_gets_every_event_in_order(
    make_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames go straight to a socket while it keeps up and through the queue while it does
    not; a reader that stops reading for a while gets all of them, in order, once it reads."""
    from server.connections import FrameWriter

    answers: list[bool] = []
    write_frame = FrameWriter.write_frame

    def recorded(self: FrameWriter, frame: bytes) -> bool:
        answers.append(write_frame(self, frame))
        return answers[-1]

    monkeypatch.setattr(FrameWriter, "write_frame", recorded)
    server = make_server(send_rate=0)
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    token = alex.headers["Authorization"].split()[1]
    url = server.url.replace("http", "ws") + "/api/events"
    padding = "x" * 60_000
    sent = 0

    def send() -> None:
        nonlocal sent
        answer = jin.post("/api/v2/messages", json={"to": "alex.kim", "body": f"{sent} {padding}"})
        assert answer.status_code == 200, answer.text
        sent += 1

    # max_queue=1: alex's client stops reading from the socket once it holds one message.
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_queue=1) as conn:
        await in_thread(send)
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while False not in answers:  # until the socket's buffers are full and frames queue
            assert asyncio.get_running_loop().time() < deadline, "the socket never fell behind"
            await in_thread(send)
        for _ in range(5):
            await in_thread(send)
        assert True in answers
        got: list[int] = []
        ids: list[int] = []
        total = sent + 20

        async def read() -> None:
            while len(got) < total:
                frame = json.loads(await asyncio.wait_for(conn.recv(), TIMEOUT))
                if frame.get("data", {}).get("type") == "message":
                    got.append(int(frame["data"]["body"].split()[0]))
                    ids.append(frame["id"])

        reading = asyncio.create_task(read())
        for _ in range(total - sent):  # more while alex catches up and frames go straight out again
            await in_thread(send)
        await reading
    assert got == list(range(sent))
    assert ids == sorted(ids)
