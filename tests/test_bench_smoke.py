"""The benchmarks stay runnable: each is smoke-run on a tiny input (timings are not asserted)."""

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
def test_ingest_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "ingest.py"), "--records", "1500", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    data = json.loads(out.stdout)
    assert data["records"] == 1500
    results = data["results"]
    assert set(results) == {"floor (bare executemany)", "paperfeed ingest snapshot"}
    for row in results.values():
        assert row["papers"] == 1500
        assert row["papers_per_s"] > 0
        assert row["peak_rss_mb"] > 0
