"""bench/community.py stays runnable: 3 clients on a tiny database, JSON out, counts exact.
Timings are not asserted (machines differ); zero errors and exact counts are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "community.py"


@pytest.mark.slow
def test_community_benchmark_runs(empty_db_url: str) -> None:
    """On the pass's database: the benchmark migrates the empty database it is given."""
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--clients",
            "3",
            "--papers",
            "4",
            "--comments",
            "2",
            "--json",
            "--database-url",
            empty_db_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["count_problems"] == [] and report["server_errors"] == 0
    upvote, comment = report["phases"]
    assert (upvote["phase"], upvote["operations"], upvote["errors"]) == ("upvote", 3 * 4 * 3, 0)
    assert (comment["phase"], comment["operations"], comment["errors"]) == ("comment", 6, 0)
    assert upvote["ops_per_s"] > 0 and upvote["p99_ms"] >= upvote["p50_ms"] > 0
