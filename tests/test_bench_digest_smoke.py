"""bench/digest.py stays runnable: smoke-run on a few subscribers (timings not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The benchmark builds and times a SQLite file of its own, whatever the pass: the
# PostgreSQL pass would repeat the same run.
pytestmark = pytest.mark.sqlite_only

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
def test_digest_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "digest.py"), "--subscribers", "40", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    data = json.loads(out.stdout)
    assert data["subscribers"] == 40 and data["message_bytes"] > 5000
    floor = data["results"]["floor (smtplib, one fixed message)"]
    paperfeed = data["results"]["paperfeed digest send"]
    assert floor["messages"] == 40
    assert (paperfeed["messages"], paperfeed["received"], paperfeed["unsent"]) == (40, 40, 0)
    for row in (floor, paperfeed):
        assert row["messages_per_s"] > 0 and row["peak_rss_mb"] > 0
