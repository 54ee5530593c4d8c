"""Kill an ingest subprocess mid-run, rerun it, and get exactly what a clean run gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from paperfeed.store.engine import make_engine
from paperfeed.store.tables.jobs import ingest_checkpoints
from paperfeed.store.tables.papers import paper_authors, paper_categories, paper_versions, papers
from tests_support import FIXTURES, NewDatabase

LINES = 24_000


def _snapshot(path: Path) -> Path:
    """A snapshot file of LINES real records, ids made unique."""
    source = (FIXTURES / "kaggle_arxiv-metadata-oai-snapshot_first200.jsonl").read_text()
    records = [json.loads(line) for line in source.splitlines()]
    with path.open("w") as out:
        for i in range(LINES):
            record = dict(records[i % len(records)])
            record["id"] = f"{2001 + i // 90000:04d}.{i % 90000:05d}"
            record["doi"] = None
            out.write(json.dumps(record) + "\n")
    return path


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_FROZEN_TIME="2026-11-23T15:00:00+00:00",
        PAPERFEED_INGEST_BATCH_SIZE="500",
    )
    env.pop("PAPERFEED_CONFIG", None)
    return env


def _ingest(url: str, file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", "ingest", "snapshot", str(file)],
        env=_env(url),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row, keyed by arXiv id rather than surrogate id."""
    with engine.connect() as conn:
        key = {pid: aid for pid, aid in conn.execute(select(papers.c.id, papers.c.arxiv_id))}
        paper_rows = sorted(
            tuple(v for k, v in row._mapping.items() if k != "id")
            for row in conn.execute(select(papers))
        )
        out = {"papers": paper_rows}
        for table in (paper_authors, paper_categories, paper_versions):
            out[table.name] = sorted(
                (key[row.paper_id], *tuple(row)[1:]) for row in conn.execute(select(table))
            )
    return out


@pytest.mark.slow
def test_killed_ingest_reruns_to_the_same_database(
    tmp_path: Path, new_database: NewDatabase
) -> None:
    file = _snapshot(tmp_path / "snapshot.jsonl")
    clean_url = new_database(tmp_path / "clean")
    crashed_url = new_database(tmp_path / "crashed")

    done = _ingest(clean_url, file)
    assert done.returncode == 0, done.stderr
    assert f"new {LINES:,}" in done.stdout

    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "ingest", "snapshot", str(file)],
        env=_env(crashed_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = make_engine(crashed_url)
    deadline = time.monotonic() + 120
    cursor = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with engine.connect() as conn:
                cursor = conn.execute(select(ingest_checkpoints.c.cursor)).scalar()
            if cursor is not None and int(cursor.split("@")[0]) >= 2000:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with engine.connect() as conn:
            stopped_at = conn.execute(select(ingest_checkpoints.c.cursor)).scalar()
            partial = len(conn.execute(select(papers.c.id)).all())
        assert stopped_at is not None
        assert 0 < partial < LINES
        # Whole batches only: what is stored is exactly what the checkpoint says.
        assert partial == int(stopped_at.split("@")[0])

        rerun = _ingest(crashed_url, file)
        assert rerun.returncode == 0, rerun.stderr
        assert "resumed from checkpoint" in rerun.stdout
        assert _dump(engine) == _dump(make_engine(clean_url))
        with engine.connect() as conn:
            assert conn.execute(select(ingest_checkpoints)).all() == []
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
