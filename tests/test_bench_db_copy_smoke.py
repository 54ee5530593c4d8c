"""bench/db_copy.py stays runnable: the sample papers SQLite -> PostgreSQL beside the COPY
floor, checksums matching. Timings are not asserted (machines differ); the figures are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "db_copy.py"


@pytest.mark.slow
@pytest.mark.postgres
def test_db_copy_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sample", "--json", "--workdir", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "floor: COPY FROM STDIN" in done.stdout
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["checksums_ok"] is True and figures["papers"] == 660
    assert figures["floor_rows"] == figures["rows"] > 660
    assert figures["phases"]["copy"] > 0 and figures["floor_seconds"] > 0
