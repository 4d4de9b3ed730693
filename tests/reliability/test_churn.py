"""Resume under churn: SSE and WebSocket subscribers cut off at random resume without a gap or a repeat.

Short by default (CI); `HUDDLE_LONG=1` runs 60 s with 10 subscribers. The same run with figures:
`python -m tests.reliability.churn --seconds 60 --subscribers 10`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.churn import ChurnConfig, run_churn

pytestmark = pytest.mark.reliability
LONG = os.environ.get("HUDDLE_LONG") == "1"


def test_subscribers_cut_at_random_keep_the_exact_event_log(tmp_path: Path) -> None:
    cfg = ChurnConfig(seconds=60, subscribers=10) if LONG else ChurnConfig(seconds=4, subscribers=6)
    outcome = run_churn(cfg, tmp_path)
    figures = outcome.figures
    print(figures.report())
    assert not outcome.problems, "\n".join(outcome.problems[:40])
    # Not vacuous: events flowed, every subscriber was cut off and resumed many times, some mid-frame.
    assert figures.events > 20
    assert figures.resumes >= 5 * cfg.subscribers
    assert figures.cut_mid_frame > 0
