"""python -m bench.abuse_work [--only NAME,...] [--checkout DIR] [--json FILE]: abuse of request work.

Each workload starts a real `huddle-server serve` on 127.0.0.1 with a temporary database,
seeded through that checkout's own command line (`load`, `token`), with the server's default
limits unless the workload says otherwise. `--checkout DIR` runs the server of another
checkout with its own venv (`DIR/.venv/bin/python -m server`, from DIR), so the figures of
unchanged code come from the same script:

    git worktree add --detach /work/before c7a87b5
    (cd /work/before && python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]')
    python -m bench.abuse_work --checkout /work/before     # before
    python -m bench.abuse_work                             # after

- mail: a newly invited user posts a 273 KiB mail (a Subject of 20,000 encoded words) to a
  stream that does not exist; then a member posts it to their own stream. The answer and its
  time, the longest stall of a concurrent request, the server's RSS before, at its peak, and
  2 s after.
- logins: 100 concurrent wrong passwords for one account from one address: how many got a
  401 verdict and how many 429, and the longest stall of a concurrent request.
- timing: login time, median of 30 each, a known handle with a wrong password against an
  unknown handle (login limits off).
- handles: 100 concurrent failed logins, each with its own 900 KB handle: the server's RSS
  retained 2 s after (`retained_mib`, the first burst); then twice more, with other handles.
- stop: SIGINT with an SSE stream open: seconds until the process exits, ERROR lines logged.

The "stall" is the longest time one request of a prober took: another user's
`GET /api/v2/users/{handle}` sent one after another, on its own connection, from a thread.
Nothing here is asserted; the machine is shared, so compare figures of one run, or runs
close together.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SEED = """
[[users]]
handle = "alex.kim"
display_name = "Alex Kim"
password = "alex-pass"
team = "infrastructure"
admin = true

[[users]]
handle = "jin.park"
display_name = "Jin Park"
password = "jin-pass"
team = "infrastructure"

[[teams]]
name = "infrastructure"
members = ["alex.kim", "jin.park"]
"""
TIMEOUT = 120.0


# ---- the server under test ------------------------------------------------------------------
@dataclass
class Server:
    """`huddle-server serve` of a checkout, on a fresh database in a temporary directory."""

    checkout: Path
    root: Path
    flags: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def python(self) -> str:
        """The checkout's own interpreter (its venv), or ours for this checkout."""
        venv = self.checkout / ".venv" / "bin" / "python"
        return str(venv) if venv.exists() else sys.executable

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run a `huddle-server` command of the checkout; its stdout."""
        command = [self.python, "-m", "server", *args]
        done = subprocess.run(
            command, cwd=self.checkout, input=stdin, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout.strip()

    def supported(self) -> set[str]:
        """The flags the checkout's `serve` knows (older checkouts lack newer limits)."""
        return set(re.findall(r"--[a-z][a-z-]+", self.cli("serve", "--help")))

    def start(self, **limits: str) -> Server:
        """Seed, then serve; `limits` are flags (`login_rate="0"`) passed when the checkout knows them."""
        db = self.root / "huddle.db"
        seed = self.root / "seed.toml"
        seed.write_text(SEED)
        self.cli("load", "--db", str(db), str(seed))
        known = self.supported()
        for name, value in limits.items():
            flag = "--" + name.replace("_", "-")
            if flag in known:
                self.flags += [flag, value]
        command = [self.python, "-m", "server", "serve", "--port", "0", "--db", str(db), *self.flags]
        with (self.root / "stderr.log").open("w") as log:  # a file: a full pipe would block the server
            self.proc = subprocess.Popen(command, cwd=self.checkout, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"huddle-server did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        for handle in ("alex.kim", "jin.park"):
            self.tokens[handle] = self.cli("token", "--db", str(db), handle)
        return self

    def rss_kib(self) -> int:
        """The server's resident memory now."""
        return self._status("VmRSS")

    def _status(self, key: str) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        """Stop it (SIGINT, bounded), killing it if it does not stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@contextlib.contextmanager
def serving(checkout: Path, **limits: str) -> Iterator[Server]:
    """A started server, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="huddle-abuse-") as tmp:
        server = Server(checkout, Path(tmp))
        try:
            yield server.start(**limits)
        finally:
            server.stop()


# ---- watching it -----------------------------------------------------------------------------
class Prober:
    """Another user's requests one after another, from a thread: the longest one is the stall."""

    def __init__(self, server: Server, handle: str = "jin.park") -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.tokens[handle]}"}
        self.path = f"/api/v2/users/{handle}"
        self.times: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=TIMEOUT) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    ok = client.get(self.path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.times.append(time.perf_counter() - start)
                self.failures += not ok
                time.sleep(0.005)

    def __enter__(self) -> Prober:
        self._thread.start()
        time.sleep(0.3)  # a few requests before the burst: the usual time of one
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(timeout=TIMEOUT)

    def figures(self) -> dict[str, Any]:
        """The longest request, the median, how many."""
        return {
            "stall_ms": round(max(self.times, default=0.0) * 1000, 1),
            "median_ms": round(statistics.median(self.times) * 1000, 2) if self.times else None,
            "requests": len(self.times),
            "failed": self.failures,
        }


class Memory:
    """The server's RSS sampled every 10 ms from a thread: before, peak, and later."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = 0
        self.before = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, self.server.rss_kib())
            time.sleep(0.01)

    def __enter__(self) -> Memory:
        self.before = self.peak = self.server.rss_kib()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def settled(self, wait: float = 2.0) -> int:
        """RSS after `wait` seconds of quiet."""
        time.sleep(wait)
        return self.server.rss_kib()


def mib(kib: int) -> float:
    """KiB to MiB, one decimal."""
    return round(kib / 1024, 1)


# ---- workloads -------------------------------------------------------------------------------
def big_mail(words: int = 20_000) -> bytes:
    """A mail whose Subject is `words` encoded words (14 bytes each: 273 KiB for 20,000)."""
    subject = " ".join(["=?utf-8?q?a?="] * words)
    return f"From: Mallory <m@example.com>\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()


def invited_token(server: Server) -> str:
    """A new user, made by accepting an invitation; their session token (sent as a bearer token)."""
    admin = {"Authorization": f"Bearer {server.tokens['alex.kim']}"}
    invite = httpx.post(f"{server.url}/api/invite", json={}, headers=admin, timeout=TIMEOUT).json()["id"]
    body = {"name": "new.comer", "password": "a password of the newcomer"}
    r = httpx.post(f"{server.url}/api/invite/{invite}", json=body, timeout=TIMEOUT)
    r.raise_for_status()
    return str(r.cookies["identity"])


def post_mail(server: Server, token: str, stream: str, mail: bytes) -> dict[str, Any]:
    """Post the mail to a stream; status and time of the answer."""
    url = f"{server.url}/api/messages/email?id={stream}&objectType=activitystream"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"}
    start = time.perf_counter()
    r = httpx.post(url, content=mail, headers=headers, timeout=TIMEOUT)
    return {"status": r.status_code, "answer_ms": round((time.perf_counter() - start) * 1000, 1)}


def mail(checkout: Path) -> dict[str, Any]:
    """The 273 KiB mail, to a stream that does not exist (newcomer), then to the member's own stream."""
    raw = big_mail()
    out: dict[str, Any] = {"mail_bytes": len(raw)}
    with serving(checkout) as server:
        own = httpx.get(
            f"{server.url}/api/activitystreams",
            headers={"Authorization": f"Bearer {server.tokens['alex.kim']}"},
            timeout=TIMEOUT,
        ).json()[0]["uuid"]
        cases = [
            ("no_such_stream", invited_token(server), str(uuid.uuid4())),
            ("own_stream", server.tokens["alex.kim"], own),
        ]
        for name, token, stream in cases:
            with Memory(server) as memory, Prober(server) as prober:
                answer = post_mail(server, token, stream, raw)
            after = memory.settled()
            out[name] = {
                **answer,
                **prober.figures(),
                "rss_before_mib": mib(memory.before),
                "rss_peak_mib": mib(memory.peak),
                "rss_after_mib": mib(after),
            }
    return out


async def _burst(url: str, bodies: list[dict[str, Any]]) -> list[int]:
    """POST every body at once (one connection each); the statuses."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
        answers = await asyncio.gather(*(client.post(url, json=b) for b in bodies), return_exceptions=True)
    return [a.status_code if isinstance(a, httpx.Response) else 0 for a in answers]


def logins(checkout: Path, n: int = 100) -> dict[str, Any]:
    """n concurrent wrong passwords for one account from one address, default limits."""
    with serving(checkout) as server, Prober(server) as prober:
        start = time.perf_counter()
        guesses = [{"user": "alex.kim", "password": f"guess {i}"} for i in range(n)]
        statuses = asyncio.run(_burst(f"{server.url}/api/v2/auth/login", guesses))
        took = time.perf_counter() - start
    return {
        "attempts": n,
        "verdict_401": statuses.count(401),
        "refused_429": statuses.count(429),
        "other": len(statuses) - statuses.count(401) - statuses.count(429),
        "burst_s": round(took, 2),
        **prober.figures(),
    }


def timing(checkout: Path, rounds: int = 30) -> dict[str, Any]:
    """Median login time, known handle (wrong password) against unknown handle, alternating."""
    off = {"login_rate": "0", "login_rate_account": "0", "login_rate_address": "0"}
    known: list[float] = []
    unknown: list[float] = []
    with serving(checkout, **off) as server, httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        for i in range(rounds + 2):
            for handle, into in (("alex.kim", known), (f"nobody.{i}", unknown)):
                start = time.perf_counter()
                r = client.post("/api/v2/auth/login", json={"user": handle, "password": "wrong password"})
                if i >= 2:  # the first two rounds warm up
                    into.append(time.perf_counter() - start)
                assert r.status_code == 401, r.text
    k, u = statistics.median(known), statistics.median(unknown)
    return {"known_ms": round(k * 1000, 1), "unknown_ms": round(u * 1000, 1), "ratio": round(k / u, 2)}


def handles(checkout: Path, n: int = 100, size: int = 900_000, bursts: int = 3) -> dict[str, Any]:
    """`bursts` times n concurrent failed logins, each with its own `size`-byte handle: RSS retained."""
    out: dict[str, Any] = {"attempts": n, "bursts": []}
    with serving(checkout) as server:
        before = server.rss_kib()
        for burst in range(bursts):
            bodies = [{"user": f"{burst}.{i:03d}" + "h" * size, "password": "wrong"} for i in range(n)]
            with Memory(server) as memory:
                statuses = asyncio.run(_burst(f"{server.url}/api/v2/auth/login", bodies))
            after = memory.settled()
            out["bursts"].append(
                {
                    "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
                    "rss_peak_mib": mib(memory.peak),
                    "rss_after_mib": mib(after),
                }
            )
    out["rss_before_mib"] = mib(before)
    out["retained_mib"] = round(out["bursts"][0]["rss_after_mib"] - mib(before), 1)
    return out


def stop(checkout: Path) -> dict[str, Any]:
    """SIGINT with an SSE stream open: how long the process takes to exit, and what it logged."""
    with serving(checkout) as server:
        assert server.proc is not None
        headers = {"Authorization": f"Bearer {server.tokens['alex.kim']}"}
        with (
            httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
            client.stream("GET", "/api/events", headers=headers),
        ):
            time.sleep(0.3)
            start = time.perf_counter()
            server.proc.send_signal(signal.SIGINT)
            server.proc.wait(timeout=TIMEOUT)
            took = time.perf_counter() - start
        logged = (server.root / "stderr.log").read_text()
    return {
        "exit_s": round(took, 2),
        "error_lines": sum("ERROR" in line for line in logged.splitlines()),
        "traceback": "Traceback" in logged,
    }


WORKLOADS = {"mail": mail, "logins": logins, "timing": timing, "handles": handles, "stop": stop}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen workloads one after another; print one JSON line each."""
    parser = argparse.ArgumentParser(prog="python -m bench.abuse_work", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated: {', '.join(WORKLOADS)}")
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose server runs (its .venv)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    commit = subprocess.run(
        ["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    results: dict[str, Any] = {"checkout": str(args.checkout), "commit": commit}
    print(f"checkout {args.checkout} at {commit}", flush=True)
    for name in chosen:
        results[name] = WORKLOADS[name](args.checkout.resolve())
        print(f"{name:8} {json.dumps(results[name])}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
