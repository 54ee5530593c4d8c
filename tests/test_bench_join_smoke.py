"""bench/join.py stays runnable: a corpus of the 30 fixture papers (its index folder made by
`paperfeed index update`), machine A publishing, a fresh machine B joining and answering a
hybrid search. Timings are not asserted (machines differ); what was restored is."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from tests_support import seed_hf

BENCH = Path(__file__).resolve().parents[1] / "bench" / "join.py"


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_join_benchmark_runs(
    sqlite_engine: Engine, sqlite_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    seed_hf(sqlite_engine, clock)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = {
        "PAPERFEED_DATABASE_URL": sqlite_url,
        "PAPERFEED_INDEX_DIR": str(corpus / "index"),
        "PAPERFEED_VECTOR_EXACT_MAX": "10",
    }
    made = CliRunner().invoke(cli, ["index", "update"], env=env, catch_exceptions=False)
    assert made.exit_code == 0, made.output
    # The database as a kept corpus holds it: one file (WAL included), by SQLite's backup.
    with (
        sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as source,
        sqlite3.connect(corpus / "papers.db") as target,
    ):
        source.backup(target)
    command = [sys.executable, str(BENCH), "--corpus", str(corpus), "--json"]
    command += ["--workdir", str(tmp_path / "w"), "--repeat", "1", "--changes", "5", "--db-store"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PAPERFEED_VECTOR_EXACT_MAX": "10"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    joined = report["runs"][0]["join"]
    assert {"graph", "word"} <= set(joined["restored"]) and joined["word_index_answers"]
    assert joined["vector_index"] == "hnsw" and joined["graph_origin"] in ("cache", "repaired")
    assert {"graph", "word"} <= set(report["database_store"]["join"]["restored"])
    assert report["summary"]["total"]["median"] > 0
