"""python -m bench.abuse_caps [--only NAME,...] [--venv PATH] [--json FILE]: what abuse costs the server.

The figures of issue 17 ("Server hardening", the caps), each against a fresh `huddle-server serve`
on 127.0.0.1 with a temporary database, run from the venv given by --venv (default: this one), so
the same script measures an older checkout too:

    git worktree add --detach ../huddle-before c7a87b5
    (cd ../huddle-before && python3 -m venv .venv && .venv/bin/pip install -q -e .)
    python -m bench.abuse_caps --venv ../huddle-before/.venv     # before
    python -m bench.abuse_caps                                   # after

Scenarios (--only):
  headers  20 connections each sending 25 MB of a request head that never ends (one endless
           header value, then endless header lines): the server's RSS at the peak and after.
  streams  20 WebSocket readers that stop reading while 550 DMs of 64,000 emoji reach them: RSS.
  replays  five parallel full replays (resume_point=0) of those 550 DMs while another client
           asks for a user every 20 ms: its longest wait, and the server's peak RSS.
  boot     200 sends of 64,000 emoji into 4 new channels: another user's boot snapshot, bytes.

Only the server's command line is used (load, token, serve and HTTP), so any checkout that has
them can be measured. Every loop is bounded in count and time; traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

TEAM = """
[[users]]
handle = "alex.kim"
password = "alex-pass"

[[users]]
handle = "jin.park"
password = "jin-pass"

[[users]]
handle = "maya.chen"
password = "maya-pass"

[[channels]]
name = "general"
"""
BIG = "😀" * 63_990  # with "NNN " in front: just under the 64,000-character limit of a body
MIB = 1024 * 1024


class Server:
    """`huddle-server serve` of a venv on a fresh database, with its users' tokens."""

    def __init__(self, venv: Path, root: Path, *flags: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.command = str(venv / "bin" / "huddle-server")
        self.root = root
        db = root / "huddle.db"
        (root / "team.toml").write_text(TEAM)
        self._run("load", "--db", str(db), str(root / "team.toml"))
        self.tokens = {h: self._run("token", "--db", str(db), h).strip() for h in ("alex.kim", "jin.park", "maya.chen")}
        # The console script, from a directory of its own: no checkout's `server` package on the path but the venv's.
        serve = [self.command, "serve", "--db", str(db), "--port", "0", "--send-rate", "0", *flags]
        self.proc = subprocess.Popen(serve, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on http://"):
            self.proc.kill()
            raise RuntimeError(f"huddle-server did not start: {line!r}")
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[-1])
        time.sleep(0.5)  # the lifespan has started once it answers; let its first tick pass too

    def _run(self, *args: str) -> str:
        done = subprocess.run([self.command, *args], cwd=self.root, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"huddle-server {args[0]} failed: {done.stderr}")
        return done.stdout

    def rss_mib(self) -> float:
        """Resident memory now."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def http(self, handle: str) -> httpx.Client:
        """A keep-alive client signed in with a bearer token."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[handle]}"}, timeout=120)

    def stop(self) -> None:
        """Stop it (bounded)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Peak:
    """Samples a server's RSS every 20 ms in a thread; `peak` is the highest seen."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = server.rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.server.rss_mib())

    def stop(self) -> float:
        """Stop sampling; the peak."""
        self._stop.set()
        self._thread.join()
        return round(self.peak, 1)


def send_big_dms(server: Server, count: int) -> float:
    """`count` DMs of 64,000 emoji from jin.park to alex.kim; seconds taken."""
    start = time.perf_counter()
    with server.http("jin.park") as http:
        for n in range(count):
            http.post("/api/v2/messages", json={"to": "alex.kim", "body": f"{n} {BIG}"}).raise_for_status()
    return round(time.perf_counter() - start, 1)


# ---- headers -----------------------------------------------------------------------------------
def _flood(port: int, first: bytes, piece: bytes, total: int, hold: float, sent: list[int]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(first)
        done = 0
        try:
            while done < total:
                sock.sendall(piece)
                done += len(piece)
        except OSError:  # the server closed the connection (431, or a reset)
            pass
        sent.append(done)
        time.sleep(hold)  # a flooding client keeps its connection for a while


def headers(venv: Path, root: Path) -> dict[str, Any]:
    """20 connections x 25 MB of a head that never ends, as one header value and as header lines."""
    out: dict[str, Any] = {}
    shapes = {"one value": b"a" * 65_536, "header lines": b"X-a: b\r\n" * 8192}
    for name, piece in shapes.items():
        server = Server(venv, root / name.replace(" ", "-"))
        try:
            before = server.rss_mib()
            peak = Peak(server)
            first = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (b"X-a: " if name == "one value" else b"")
            sent: list[int] = []
            start = time.perf_counter()
            threads = [
                threading.Thread(target=_flood, args=(server.port, first, piece, 25 * 1_000_000, 2.0, sent))
                for _ in range(20)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
            seconds = time.perf_counter() - start
            time.sleep(1)
            out[name] = {
                "rss_before_mib": round(before, 1),
                "rss_peak_mib": peak.stop(),
                "rss_growth_peak_mib": round(peak.peak - before, 1),
                "rss_1s_after_mib": round(server.rss_mib(), 1),
                "mb_taken_per_connection": round(statistics.median(sent) / 1_000_000, 1),
                "seconds": round(seconds, 1),
            }
        finally:
            server.stop()
    return out


# ---- stalled streams ---------------------------------------------------------------------------
def stalled_reader(server: Server, handle: str) -> ClientConnection:
    """A WebSocket event stream that is never read: past one frame its client stops reading the socket."""
    url = server.url.replace("http", "ws") + "/api/events"
    auth = {"Authorization": f"Bearer {server.tokens[handle]}"}
    return ws_connect(url, additional_headers=auth, max_queue=1, max_size=None, ping_interval=None, close_timeout=0.2)


def streams(venv: Path, root: Path, messages: int = 550) -> dict[str, Any]:
    """20 stalled WebSocket readers while `messages` DMs of 64,000 emoji are sent to their user."""
    server = Server(venv, root / "streams")
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)
        readers = [stack.enter_context(stalled_reader(server, "alex.kim")) for _ in range(20)]
        for reader in readers:  # at the end, before they close: no closing handshakes to wait for
            stack.callback(_drop, reader)
        send_big_dms(server, 1)
        time.sleep(0.5)
        before = server.rss_mib()
        peak = Peak(server)
        seconds = send_big_dms(server, messages)
        time.sleep(1)
        after = server.rss_mib()
        result = {
            "messages": messages,
            "rss_before_mib": round(before, 1),
            "rss_after_mib": round(after, 1),
            "rss_growth_mib": round(after - before, 1),
            "rss_growth_peak_mib": round(peak.stop() - before, 1),
            "kib_per_message": round((after - before) * 1024 / messages, 1),
            "send_seconds": seconds,
        }
    return result


def _drop(connection: ClientConnection) -> None:
    with contextlib.suppress(OSError):
        connection.socket.shutdown(socket.SHUT_RDWR)


# ---- parallel full replays ---------------------------------------------------------------------
def _replay(url: str, token: str, until: int, result: Any) -> None:
    """Read a full replay (resume_point=0) until event `until`; put (events, seconds) in result."""
    start = time.perf_counter()
    count = 0
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with ws_connect(f"{url}?resume_point=0", additional_headers=auth, max_size=None, open_timeout=60) as ws:
            while True:
                frame = json.loads(ws.recv(timeout=120))
                count += 1
                if frame.get("id", 0) >= until:
                    break
    except (ConnectionClosed, TimeoutError, OSError) as exc:
        result.put((count, time.perf_counter() - start, repr(exc)))
        return
    result.put((count, time.perf_counter() - start, None))


def replays(venv: Path, root: Path, messages: int = 550, parallel: int = 5) -> dict[str, Any]:
    """`parallel` full replays of `messages` big DMs at once, while maya asks for a user every 20 ms."""
    server = Server(venv, root / "replays")
    try:
        send_big_dms(server, messages)
        with server.http("alex.kim") as http:
            until = int(http.get("/api/boot", params={}).json()["resume_point"])
        time.sleep(1)
        before = server.rss_mib()
        waits: list[float] = []
        with server.http("maya.chen") as probe:
            probe.get("/api/v2/users/jin.park").raise_for_status()
            for _ in range(50):  # the same requests on a quiet server, for scale
                t = time.perf_counter()
                probe.get("/api/v2/users/jin.park").raise_for_status()
                waits.append(time.perf_counter() - t)
                time.sleep(0.02)
            quiet = sorted(waits)
            waits = []
            peak = Peak(server)
            results: Any = multiprocessing.get_context("spawn").Queue()
            url = server.url.replace("http", "ws") + "/api/events"
            readers = [
                multiprocessing.get_context("spawn").Process(
                    target=_replay, args=(url, server.tokens["alex.kim"], until, results)
                )
                for _ in range(parallel)
            ]
            start = time.perf_counter()
            for reader in readers:
                reader.start()
            deadline = time.monotonic() + 600
            while any(r.is_alive() for r in readers) and time.monotonic() < deadline:
                t = time.perf_counter()
                probe.get("/api/v2/users/jin.park").raise_for_status()
                waits.append(time.perf_counter() - t)
                time.sleep(0.02)
            seconds = time.perf_counter() - start
            done = [results.get(timeout=30) for _ in readers]
            for reader in readers:
                reader.join(timeout=10)
        return {
            "messages": messages,
            "parallel": parallel,
            "events_each": [d[0] for d in done],
            "errors": [d[2] for d in done if d[2]],
            "replay_seconds": round(seconds, 1),
            "probe_requests": len(waits),
            "probe_longest_ms": round(max(waits) * 1000, 1),
            "probe_p50_ms": round(statistics.median(waits) * 1000, 1),
            "probe_quiet_longest_ms": round(quiet[-1] * 1000, 1),
            "rss_before_mib": round(before, 1),
            "rss_peak_mib": peak.stop(),
            "rss_growth_peak_mib": round(peak.peak - before, 1),
        }
    finally:
        server.stop()


# ---- boot size ---------------------------------------------------------------------------------
def boot(venv: Path, root: Path, sends: int = 200, channels: int = 4) -> dict[str, Any]:
    """`sends` posts of 64,000 emoji into `channels` new channels; maya's boot before and after."""
    server = Server(venv, root / "boot")
    try:
        with server.http("maya.chen") as maya, server.http("alex.kim") as alex:
            before = len(maya.get("/api/boot").content)
            made = [alex.post("/api/channels", json={"name": f"flood-{c}"}).json()["id"] for c in range(channels)]
            start = time.perf_counter()
            for n in range(sends):
                alex.post(f"/api/channels/{made[n % channels]}", json={"body": f"{n} {BIG}"}).raise_for_status()
            seconds = time.perf_counter() - start
            t = time.perf_counter()
            answer = maya.get("/api/boot")
            took = time.perf_counter() - t
            answer.raise_for_status()
            messages = answer.json()["messages"]
            return {
                "sends": sends,
                "channels": channels,
                "boot_bytes_before": before,
                "boot_bytes_after": len(answer.content),
                "boot_messages_after": len(messages),
                "boot_truncated_after": sum(1 for m in messages if m.get("truncated")),
                "boot_ms_after": round(took * 1000, 1),
                "send_seconds": round(seconds, 1),
            }
    finally:
        server.stop()


SCENARIOS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "headers": headers,
    "streams": streams,
    "replays": replays,
    "boot": boot,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.abuse_caps", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help=f"comma-separated scenarios: {', '.join(SCENARIOS)}")
    parser.add_argument("--venv", type=Path, default=Path(sys.prefix), help="the venv whose huddle-server to run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    venv = args.venv.resolve()
    if not (venv / "bin" / "huddle-server").exists():
        parser.error(f"no huddle-server in {venv}/bin")
    git = ["git", "-C", str(venv.parent), "rev-parse", "--short", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True)
    print(f"abuse caps: huddle-server of {venv} (checkout {head.stdout.strip() or '?'}), pid {os.getpid()}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="huddle-abuse-") as tmp:
        for name in names:
            results[name] = SCENARIOS[name](venv, Path(tmp))
            print(f"{name}: {json.dumps(results[name], ensure_ascii=False)}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"venv": str(venv), "checkout": head.stdout.strip(), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
