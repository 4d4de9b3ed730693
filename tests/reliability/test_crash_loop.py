"""Crash safety: concurrent senders against a real server process killed with SIGKILL at random moments.

Short by default (CI); `HUDDLE_LONG=1` runs 8 senders for 60 s with 10 kills. The same run with
any figures: `python -m tests.reliability.crashloop --senders 8 --seconds 60 --kills 10 [--cold]`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.crashloop import Config, run

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
LONG = os.environ.get("HUDDLE_LONG") == "1"


def test_acknowledged_messages_and_ringing_calls_survive_sigkill(tmp_path: Path) -> None:
    # Short: servers forked from a parent that imported them once (restarts in ~0.05 s);
    # long: each server a new `python -m server serve` process.
    cfg = Config(senders=8, seconds=60, kills=10, fork=False) if LONG else Config(senders=4, seconds=7, kills=5)
    outcome = run(cfg, tmp_path)
    figures = outcome.figures
    print(figures.report())
    assert not outcome.problems, "\n".join(outcome.problems[:40])
    # Not vacuous: the kills happened under load, some requests were cut and retried,
    # and calls were left ringing across a kill.
    assert figures.kills == cfg.kills >= 5
    assert figures.acknowledged == figures.messages > 0
    assert figures.found == figures.acknowledged
    assert figures.retries > 0
    assert figures.calls_ringing_at_kill > 0
    assert figures.calls_resolved >= figures.calls_placed
