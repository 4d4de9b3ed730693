"""python -m bench [--quick] [--only W1,W2,...] [--json FILE]: the table, and JSON.

Everything runs on 127.0.0.1, every loop bounded in count and time. Each server workload
gets a fresh `huddle-server serve` process with its limits raised (--send-rate 0
--login-rate 0 --max-streams-per-user 0); W1, W2 and W6 also run against a bare relay on
the same stack (bench/relay.py), and report the ratio to that floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import client, multiproc, search, workloads

QUICK = {
    "W1": lambda r: workloads.w1(r, n=50),
    "W2": lambda r: workloads.w2(r, ks=[10, 100], rounds=5),
    "W3": lambda r: workloads.w3(r, n=20),
    "W4": lambda r: workloads.w4(r, concurrency=[1, 8], seconds=2),
    "W5": lambda r: workloads.w5(r, users=200, channels=10, messages=2000, rounds=5),
    "W6": lambda r: workloads.w6(r, n=100, seconds=3),
    "W7": lambda r: multiproc.w7(r, n=30, senders=8, seconds=2),
    "W8": lambda r: search.w8(r, messages=2000, rounds=5),
    "C1": lambda r: client.c1(r, contacts=300, rounds=2),
    "C2": lambda r: client.c2(r, contacts=100, rate=500, seconds=2),
}
FULL = {
    "W1": lambda r: workloads.w1(r, n=500),
    "W2": lambda r: workloads.w2(r, ks=[10, 100, 1000], rounds=20),
    "W3": lambda r: workloads.w3(r, n=200),
    "W4": lambda r: workloads.w4(r, concurrency=[1, 8, 32], seconds=10),
    "W5": lambda r: workloads.w5(r, users=1000, channels=50, messages=20_000, rounds=20),
    "W6": lambda r: workloads.w6(r, n=1000, seconds=60),
    "W7": lambda r: multiproc.w7(r, n=300, senders=8, seconds=10),
    "W8": lambda r: search.w8(r, messages=100_000, rounds=30),
    "C1": lambda r: client.c1(r, contacts=2000, rounds=5),
    "C2": lambda r: client.c2(r, contacts=500, rate=500, seconds=10),
}
AIMS = {
    "W1": "p99 < 5 ms, <= 3x floor",
    "W2": "p99 < 100 ms at 1000, <= 1.5x floor",
    "W4": ">= 2000/s with 8 senders, 0 errors",
    "W5": "< 150 ms",
    "W6": "< 50 KB per connection",
    "W7": "cross-process delivery p99 < 2x one process's; 3 processes >= 1 on PostgreSQL",
    "W8": "p99 < 100 ms for every kind of query",
    "C1": "<= 2x empty app",
    "C2": "lag < 100 ms",
}


def rows(name: str, result: dict[str, Any]) -> list[str]:
    """Lines of the table for one workload."""
    out = []

    def fmt(d: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in d.items() if not isinstance(v, dict) and k != "pid")

    for key, value in result.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            for sub, inner in value.items():
                out.append(f"{name:<3} {key:>6} {sub:<7} {fmt(inner) if isinstance(inner, dict) else inner}")
        elif isinstance(value, dict):
            out.append(f"{name:<3} {key:<14} {fmt(value)}")
        else:
            out.append(f"{name:<3} {key:<14} {value}")
    return out


async def run(selected: dict[str, Any], root: Path) -> dict[str, Any]:
    """Run the workloads one after another (never two at once: the machine is shared)."""
    results: dict[str, Any] = {}
    for name, workload in selected.items():
        t0 = time.perf_counter()
        results[name] = await workload(root)
        results[name]["seconds"] = round(time.perf_counter() - t0, 1)
        for line in rows(name, results[name]):
            print(line, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute): a smoke test")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W4")
    parser.add_argument("--json", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args(argv)
    table = QUICK if args.quick else FULL
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()] or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown workloads: {', '.join(unknown)}")
    print(
        f"huddle bench ({'quick' if args.quick else 'full'}) {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, python {platform.python_version()}; limits raised for the bench"
    )
    with tempfile.TemporaryDirectory(prefix="huddle-bench-") as tmp:
        results = asyncio.run(run({n: table[n] for n in names}, Path(tmp)))
    report = {
        "mode": "quick" if args.quick else "full",
        "at": datetime.now(UTC).isoformat(),
        "machine": platform.platform(),
        "aims": AIMS,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
