"""The fan-out hub: delivers committed events in id order, replays from the event log.

Every event is committed to the log with the change it describes; the hub only relays
what is committed. Each event variant is serialised once and the same `Frame` goes to every
subscriber that receives it; how a frame goes on the wire (SSE, WebSocket) is the transport's
(server.dialects.transport), which keeps each wire form on the frame, so it too is made once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from server.model import Event
from server.store.base import Store

log = logging.getLogger("huddle.events")

# Frames a subscriber may fall behind before it is cut off (it then resumes); its bytes are
# capped too (Hub.max_buffered_bytes, --max-buffered-bytes).
QUEUE_LIMIT = 20_000
# A replay reads the log in chunks of at most REPLAY_CHUNK events or REPLAY_CHUNK_CHARS of stored
# text (an event carrying 64,000 emoji is ~770,000 characters stored), encodes each event only as
# it hands it out, and lets other tasks run after every REPLAY_SLICE_BYTES it handed out: five
# parallel full replays of big messages neither freeze the server nor hold the log in memory.
REPLAY_CHUNK = 500
REPLAY_CHUNK_CHARS = 1024 * 1024
REPLAY_SLICE_BYTES = 64 * 1024


class Frame:
    """One event as one kind of receiver gets it, serialised once, shared by every such receiver."""

    __slots__ = ("forms", "id", "json", "size")

    def __init__(self, event_id: int | None, data_json: str) -> None:
        self.id = event_id
        self.json = data_json
        # What holding it costs, as a queue counts it (its text; the wire forms come and go).
        self.size = sys.getsizeof(data_json)
        # The transport's wire forms of this frame, made once for every subscriber.
        self.forms: dict[str, Any] = {}


# Queued by the hub's heartbeat sweep: "nothing for `idle` seconds", never sent as such.
BEAT = Frame(None, "")
# How often the hub looks for subscriptions owed a heartbeat.
BEAT_SWEEP_SECONDS = 0.25
# Writes a frame (None: a heartbeat) to its subscriber's socket at once; False when it cannot now.
Writer = Callable[[Frame | None], bool]


def encode(event: Event, index: int) -> Frame:
    """Serialise one variant of an event."""
    return Frame(event.id, json.dumps(event.variants[index].data, separators=(",", ":"), ensure_ascii=False))


class Closed(Exception):
    """The subscription was cut off (it fell too far behind, or the server is stopping)."""


class TooManyStreams(Exception):
    """The viewer has as many streams open as one may."""


class ResumePointGone(Exception):
    """The resume point asked for is older than the log keeps (or newer than its newest event)."""


class Subscription:
    """One viewer's stream: the replay after its resume point, then live events."""

    def __init__(self, hub: Hub, viewer_pk: int, resume_point: int, upto: int) -> None:
        self.hub = hub
        self.viewer_pk = viewer_pk
        # Live frames (None: closed) and the reader's wait for the next one. A deque and one
        # future, not an asyncio.Queue: its get/put bookkeeping was a tenth of the fan-out to
        # 1,000 subscribers (bench W2).
        self.frames: deque[Frame | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.queued_bytes = 0  # the sizes of the frames in `frames`
        self._replay_after = resume_point
        self._upto = upto
        self._replayed: deque[tuple[Event, int]] = deque()  # events read from the log, and their variant
        self._slice = 0  # bytes replayed since the reader last let other tasks run
        self.last_id = resume_point
        self.closed = False
        # The digest of the token the stream was opened with: revoking it closes the stream.
        self.token: str | None = None
        self.revoked = False
        # Set by a transport that can write a frame to the socket at once (a WebSocket under
        # FrameWriter): while the reader is caught up and waiting, push() writes frames itself.
        self.write: Writer | None = None
        # Heartbeats: the idle time asked for by next(), whether a frame went out since the
        # hub's last sweep, and for how long none has.
        self.idle: float | None = None
        self.delivered = False
        self.quiet = 0.0

    def push(self, frame: Frame) -> None:
        """Queue a live frame (or write it, see `write`); a subscriber too far behind is cut off."""
        if self._waiter is not None and not self.frames and self.write is not None and self._write_now(frame):
            return
        cap = self.hub.max_buffered_bytes
        if len(self.frames) >= QUEUE_LIMIT or (cap and self.frames and self.queued_bytes + frame.size > cap):
            self._cut_off()
            return
        self.frames.append(frame)
        self.queued_bytes += frame.size
        self._wake()

    def _cut_off(self) -> None:
        # Too far behind: what it has not taken yet is dropped now (its reader may be stuck in a
        # send for as long as its client does not read) and it ends there; the client resumes
        # from the last id it received, and the replay brings the rest from the log.
        log.info(
            "closed an event stream of user %s: %d frames (%d bytes) behind",
            self.viewer_pk,
            len(self.frames),
            self.queued_bytes,
        )
        self.frames.clear()
        self.queued_bytes = 0
        self.close()

    def _write_now(self, frame: Frame) -> bool:
        # The reader is waiting with nothing queued, so nothing of ours is on its way to the
        # socket: this frame can go first. Which frame and last_id as next() would have it.
        if frame is not BEAT and self._replayed_already(frame):
            return True
        assert self.write is not None
        try:
            if not self.write(None if frame is BEAT else frame):
                return False
        except Exception:  # one socket's trouble must not stop the fan-out: its reader meets it
            return False
        self.last_id = frame.id or self.last_id
        self.delivered = True
        return True

    def _replayed_already(self, frame: Frame) -> bool:
        # A live frame the replay from the log already sent (its id is not past last_id).
        return frame.id is not None and frame.id <= self.last_id

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop the subscription; its reader sees Closed."""
        if self.closed:
            return
        self.closed = True
        self.hub.unsubscribe(self)
        self.frames.append(None)
        self._wake()

    async def next(self, idle: float) -> Frame | None:
        """The next frame, or None (a heartbeat is due) after about `idle` seconds without one."""
        self.idle = idle
        self.delivered = True
        if self.closed and self._replay_after < self._upto:  # closed while replaying: no more of the log
            raise Closed("subscription closed")
        while not self._replayed and self._replay_after < self._upto:
            await self._fill()
        if self._replayed:
            event, index = self._replayed.popleft()
            replayed = encode(event, index)
            self.last_id = event.id
            self._slice += replayed.size
            if self._slice >= REPLAY_SLICE_BYTES:  # a send does not wait while the socket keeps up
                self._slice = 0
                await asyncio.sleep(0)
            return replayed
        while True:
            # No timer per wait (at 1,000 subscribers arming and cancelling one per delivery
            # cost a third of the fan-out, bench W2): the hub's heartbeat sweep queues BEAT.
            while not self.frames:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            frame = self.frames.popleft()
            if frame is None:
                raise Closed("subscription closed")
            self.queued_bytes -= frame.size
            if frame is BEAT:
                return None
            if self._replayed_already(frame):
                continue
            self.last_id = frame.id or self.last_id
            return frame

    def beat_if_idle(self, elapsed: float) -> None:
        """Called by the hub's sweep every `elapsed` seconds: queue a heartbeat after `idle` of silence."""
        if self.delivered or self.frames:
            self.delivered = False
            self.quiet = 0.0
            return
        self.quiet += elapsed
        if self.idle is not None and self.quiet >= self.idle:
            self.quiet = 0.0
            self.push(BEAT)

    async def _fill(self) -> None:
        after, upto = self._replay_after, self._upto
        events = await self.hub.store.read(
            lambda repo: repo.events_after(after, upto, REPLAY_CHUNK, REPLAY_CHUNK_CHARS)
        )
        if not events:
            self._replay_after = self._upto
            return
        for event in events:
            index = event.for_viewer(self.viewer_pk)
            if index is not None:
                self._replayed.append((event, index))
        self._replay_after = events[-1].id


class Hub:
    """Receives committed events, keeps them in id order, and fans them out."""

    def __init__(
        self, store: Store, *, max_streams_per_user: int = 0, max_buffered_bytes: int = 0, poll_seconds: float = 1.0
    ) -> None:
        self.store = store
        self.max_streams_per_user = max_streams_per_user
        # Bytes of live frames one subscription may hold for its reader (0 = no cap but QUEUE_LIMIT).
        self.max_buffered_bytes = max_buffered_bytes
        self.poll_seconds = poll_seconds
        self.last_id = 0
        self.subs: set[Subscription] = set()
        self._per_user: dict[int, int] = {}
        self._inbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rung = False  # a read of the log is queued for a doorbell
        # Told when a user's last stream closes (the domain decides what that means).
        self.on_last_closed: Callable[[int], object] = lambda viewer_pk: None

    async def start(self) -> None:
        """Begin relaying commits (ours through on_commit, other processes' through the store's doorbell
        where it has one, and by polling the log)."""
        self._loop = asyncio.get_running_loop()
        self.last_id = await self.store.read(lambda repo: repo.max_event_id())
        self.store.on_commit = self._from_writer
        self.store.on_foreign = self._from_doorbell
        self.store.on_broadcast = self._from_broadcast
        self._tasks = [asyncio.create_task(t) for t in (self._pump(), self._poll(), self._sweep())]

    async def stop(self) -> None:
        """Stop relaying and close every subscription."""
        self.store.on_commit = None
        self.store.on_foreign = None
        self.store.on_broadcast = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.close_all()

    def close_all(self) -> None:
        """Close every subscription: SSE responses end, WebSockets close (the server is stopping)."""
        for sub in list(self.subs):
            sub.close()

    async def _sweep(self) -> None:
        # One timer for every subscription's heartbeat, instead of one per wait.
        while True:
            await asyncio.sleep(BEAT_SWEEP_SECONDS)
            for sub in list(self.subs):
                try:
                    sub.beat_if_idle(BEAT_SWEEP_SECONDS)
                except Exception:  # one subscription's trouble must not stop everyone's heartbeats
                    log.exception("heartbeat failed")

    def _from_writer(self, events: list[Event]) -> None:
        # Called on the writer thread right after a commit.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._inbox.put_nowait, events)

    def _from_doorbell(self, last: int) -> None:
        # Called on the store's listener thread: another process committed events up to `last` (0: it
        # is not known). The pump reads them from the log, in id order, after what we have relayed.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ring, last)

    def _ring(self, last: int) -> None:
        if (last == 0 or last > self.last_id) and not self._rung:
            self._rung = True  # one read of the log answers every ring until it starts
            self._inbox.put_nowait([])

    async def _pump(self) -> None:
        while True:
            events = await self._inbox.get()
            try:
                await self._deliver(events)
            except Exception:
                log.exception("event delivery failed")

    async def _poll(self) -> None:
        # Events written by another process (huddle-server load, user, ...) reach us here.
        while True:
            await asyncio.sleep(self.poll_seconds)
            with contextlib.suppress(Exception):
                newest = await self.store.read(lambda repo: repo.max_event_id())
                if newest > self.last_id:
                    self._inbox.put_nowait([])

    async def _deliver(self, events: list[Event]) -> None:
        if not events:
            self._rung = False
        fresh = [e for e in events if e.id > self.last_id]
        if not events or (fresh and fresh[0].id != self.last_id + 1):
            # A gap: earlier commits (another process's) are in the log; read them first.
            upto = fresh[0].id - 1 if fresh else None
            while True:
                pruned, missing = await self._read_after(self.last_id, upto)
                if pruned > self.last_id:
                    self._log_moved_on(pruned)
                    continue
                if not missing:
                    break
                for event in missing:
                    self._fanout(event)
        for event in fresh:
            if event.id > self.last_id:
                self._fanout(event)

    async def _read_after(self, after: int, upto: int | None) -> tuple[int, list[Event]]:
        return await self.store.read(
            lambda repo: (repo.pruned_through(), repo.events_after(after, upto, REPLAY_CHUNK, REPLAY_CHUNK_CHARS))
        )

    def _log_moved_on(self, pruned: int) -> None:
        # The log no longer holds what follows our last relayed event (the database was restored or failed
        # over, and a new log epoch began): our streams may have had events the log has lost. They end;
        # their clients resume from a point the log no longer keeps, get 410 and boot again.
        log.warning(
            "the event log moved on from %d to %d: closing %d event streams", self.last_id, pruned, len(self.subs)
        )
        self.close_all()
        self.last_id = pruned

    def _fanout(self, event: Event) -> None:
        frames: dict[int, Frame] = {}
        for sub in list(self.subs):
            index = event.for_viewer(sub.viewer_pk)
            if index is None:
                continue
            frame = frames.get(index)
            if frame is None:
                frame = frames[index] = encode(event, index)
            sub.push(frame)
        self.last_id = event.id

    def announce(self, data_json: str, audience: frozenset[int] | None, *, exclude: int | None = None) -> None:
        """An ephemeral frame (no id: never stored, never replayed) to the live subscribers in the audience
        (None: everyone) but `exclude`, here and in the other processes on the database. Called on the
        event loop."""
        self._announce_here(data_json, audience, exclude)
        note = {"data": data_json, "audience": None if audience is None else sorted(audience), "exclude": exclude}
        self.store.broadcast(json.dumps(note, separators=(",", ":")))

    def _from_broadcast(self, note: str) -> None:
        # Called on the store's listener thread: another process's ephemeral frame.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        told = json.loads(note)
        audience = None if told["audience"] is None else frozenset(told["audience"])
        loop.call_soon_threadsafe(self._announce_here, told["data"], audience, told["exclude"])

    def _announce_here(self, data_json: str, audience: frozenset[int] | None, exclude: int | None) -> None:
        frame = Frame(None, data_json)
        for sub in list(self.subs):
            if sub.viewer_pk != exclude and (audience is None or sub.viewer_pk in audience):
                sub.push(frame)

    async def subscribe(self, viewer_pk: int, resume_point: int | None) -> Subscription:
        """Open a stream after resume_point (None: from now); ResumePointGone when that point is not kept,
        TooManyStreams past the streams one user may hold."""
        if self.max_streams_per_user and self._per_user.get(viewer_pk, 0) >= self.max_streams_per_user:
            raise TooManyStreams(viewer_pk)
        pruned, newest = await self.store.read(lambda repo: (repo.pruned_through(), repo.max_event_id()))
        start = newest if resume_point is None else resume_point
        if start < pruned or start > newest:
            raise ResumePointGone(start)
        # No await between reading last_id and registering: every event is either replayed
        # from the log (id <= last_id) or queued live (id > last_id), never lost.
        sub = Subscription(self, viewer_pk, start, max(self.last_id, start))
        self.subs.add(sub)
        self._per_user[viewer_pk] = self._per_user.get(viewer_pk, 0) + 1
        return sub

    def close_tokens(self, token_hashes: set[str]) -> int:
        """Close every stream opened with one of these tokens (revoked or expired); how many."""
        doomed = [sub for sub in self.subs if sub.token in token_hashes]
        for sub in doomed:
            sub.revoked = True
            sub.close()
        return len(doomed)

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription."""
        if sub in self.subs:
            self.subs.discard(sub)
            left = self._per_user.get(sub.viewer_pk, 1) - 1
            if left <= 0:
                self._per_user.pop(sub.viewer_pk, None)
                self.on_last_closed(sub.viewer_pk)
            else:
                self._per_user[sub.viewer_pk] = left
