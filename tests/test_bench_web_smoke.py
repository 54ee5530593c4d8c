"""bench/web.py stays runnable: a tiny database, 2 s of wrk per target, JSON out.

Timings are not asserted (CI machines differ); the harness is: every target measured,
the static ceiling answered, the report shaped as documented. wrk comes from
``scripts/ensure_wrk.sh``: without it the test is skipped on a developer's machine and
fails in CI (where ``CI`` is set), so the benchmark cannot rot unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The benchmark builds and times a SQLite file of its own, whatever the pass: the
# PostgreSQL pass would repeat the same run.
pytestmark = pytest.mark.sqlite_only

BENCH = Path(__file__).resolve().parents[1] / "bench"
SEARCHES = ("search /search?q=", "api search /api/papers/search?q=")
TARGETS = {"static (ceiling)", "home /", "api /api/daily_papers", *SEARCHES}
#: Each goal's rate (requests/s), as bench/web.py judges it.
RATES = {"api /api/daily_papers": 500, SEARCHES[0]: 150, SEARCHES[1]: 200}
ROW_NUMBERS = (
    "requests",
    "requests_per_s",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "ceiling_ratio",
    "non_2xx",
    "socket_errors",
    "server_errors",
    "stalled_connections",
    "errors",
)


@pytest.mark.slow
def test_web_benchmark_runs() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is missing: run `bash scripts/ensure_wrk.sh` before the tests")
        pytest.skip("wrk is missing: `bash scripts/ensure_wrk.sh` installs it")
    out = subprocess.run(
        [sys.executable, str(BENCH / "web.py"), "--papers", "500", "--duration", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    data = json.loads(out.stdout)
    assert data["papers"] == 500
    assert data["duration_s"] == 2
    assert (data["workers"], data["threads"], data["connections"]) == (2, 2, 32)
    assert set(data["build"]) == {"papers_s", "lexical_s", "vectors_s"}
    assert data["word_index_s"] is None or data["word_index_s"] >= 0
    assert data["server"] == "paperfeed serve --workers" and data["response_cache"] is True
    assert isinstance(data["pass"], bool)
    results = data["results"]
    assert set(results) == TARGETS
    for name, row in results.items():
        for key in ROW_NUMBERS:
            assert isinstance(row[key], int | float), (name, key)
        assert row["paths"] and all(p.startswith("/") for p in row["paths"])
        assert row["verdict"] in (None, "PASS", "FAIL")
    for name in SEARCHES:
        assert len(results[name]["paths"]) > 1, "search rotates over queries"
    ceiling = results["static (ceiling)"]
    assert ceiling["requests"] > 0 and ceiling["errors"] == 0, ceiling
    assert ceiling["ceiling_ratio"] == 1.0
    # Goals are judged on the paced runs, at each goal's rate.
    paced = data["paced"]
    assert set(paced) == set(RATES)
    for name, row in paced.items():
        assert row["verdict"] in ("PASS", "FAIL"), name
        assert results[name]["verdict"] is None, "capacity runs carry no verdict"
        assert row["think_ms"] > 0 and row["offered_per_s"] == pytest.approx(
            RATES[name] * data["pace"]
        )
        for key in ROW_NUMBERS:
            assert isinstance(row[key], int | float), (name, key)
