"""Snapshot ingestion speed and memory, with a bare executemany as the floor.

    python bench/ingest.py [--records 200000] [--json]

1. Generates a synthetic arXiv snapshot (JSON lines) of N records from the real
   records' fields and length distributions (tests/fixtures: the first
   200 lines of the Kaggle snapshot): title / abstract lengths, author counts and
   categories are resampled from them, words from their abstracts; ids are unique.
2. Runs, each in a fresh subprocess on a fresh migrated SQLite file:
   - paperfeed: `ingest()` over `SnapshotSource` (parse, validate, dedup lookups,
     insert papers, authors, categories, versions, checkpoint per batch);
   - floor: the same rows, pre-built in memory outside the timed region, written
     with a bare sqlite3 `executemany` into the same schema in batches of the same size.
3. Prints papers/s, the ratio to the floor, and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from data_paths import FIXTURES
from memory import peak_rss_mb

FIXTURE = FIXTURES / "kaggle_arxiv-metadata-oai-snapshot_first200.jsonl"
BATCH = 1000


def generate(path: Path, n: int, seed: int = 7) -> None:
    """Write n synthetic snapshot records shaped like the real ones."""
    rng = random.Random(seed)
    real = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    words = [w for r in real for w in r["abstract"].split()]
    title_words = [w for r in real for w in r["title"].split()]
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            model = rng.choice(real)
            title_len = max(3, len(model["title"].split()))
            abstract_len = max(20, len(model["abstract"].split()))
            authors = model["authors_parsed"]
            record = {
                "id": f"{2001 + i // 99999:04d}.{i % 99999 + 1:05d}",
                "submitter": model["submitter"],
                "authors": model["authors"],
                "title": " ".join(rng.choice(title_words) for _ in range(title_len)),
                "comments": model["comments"],
                "journal-ref": model["journal-ref"],
                "doi": None,
                "report-no": None,
                "categories": model["categories"],
                "license": model["license"],
                "abstract": " ".join(rng.choice(words) for _ in range(abstract_len)),
                "versions": model["versions"],
                "update_date": model["update_date"],
                "authors_parsed": [list(a) for a in rng.sample(authors, len(authors))],
            }
            out.write(json.dumps(record) + "\n")


def run_paperfeed(db: Path, snapshot: Path) -> dict[str, float]:
    from paperfeed.clock import SystemClock
    from paperfeed.ingest.pipeline import IngestOptions, ingest
    from paperfeed.ingest.snapshot import SnapshotSource
    from paperfeed.store.engine import make_engine

    engine = make_engine(f"sqlite:///{db}")
    start = time.perf_counter()
    report = ingest(
        engine, SnapshotSource(snapshot), clock=SystemClock(), options=IngestOptions(BATCH)
    )
    seconds = time.perf_counter() - start
    assert report.completed and report.rejected == 0, report.summary()
    return {"seconds": seconds, "papers": report.new}


def run_floor(db: Path, snapshot: Path) -> dict[str, float]:
    """The same rows, built and converted beforehand, written by a bare sqlite3 executemany."""
    import sqlite3
    from datetime import UTC, date, datetime

    from paperfeed.ingest.snapshot import parse_line
    from paperfeed.models import Paper
    from paperfeed.store.papers import child_rows, paper_values

    def stored(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list):
            return json.dumps(value)
        return value

    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    batches = []
    with snapshot.open("rb") as handle:
        batch: list[list[list[object]]] = [[], [], [], []]
        for number, line in enumerate(handle, 1):
            paper = parse_line(line, number)
            assert isinstance(paper, Paper)
            batch[0].append([stored(v) for v in paper_values(number, paper, now)])
            for rows, table_rows in zip(batch[1:], child_rows(number, paper), strict=True):
                rows.extend([stored(v) for v in row] for row in table_rows)
            if number % BATCH == 0:
                batches.append(batch)
                batch = [[], [], [], []]
        if batch[0]:
            batches.append(batch)
    width = len(batches[0][0][0])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    statements = [
        f"INSERT INTO papers VALUES ({', '.join('?' * width)})",
        "INSERT INTO paper_authors VALUES (?, ?, ?)",
        "INSERT INTO paper_categories VALUES (?, ?, ?)",
        "INSERT INTO paper_versions VALUES (?, ?, ?, ?)",
    ]
    papers = sum(len(b[0]) for b in batches)
    start = time.perf_counter()
    for batch in batches:
        conn.execute("BEGIN IMMEDIATE")
        for sql, rows in zip(statements, batch, strict=True):
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return {"seconds": seconds, "papers": papers}


def child(mode: str, db: Path, snapshot: Path) -> None:
    result = run_paperfeed(db, snapshot) if mode == "paperfeed" else run_floor(db, snapshot)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(json.dumps(result) + "\n")


def measure(mode: str, template: Path, snapshot: Path, workdir: Path) -> dict[str, float]:
    db = workdir / f"{mode}.db"
    shutil.copyfile(template, db)
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(db), str(snapshot)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["papers_per_s"] = result["papers"] / result["seconds"]
    result["db_mb"] = (
        db.stat().st_size + sum(p.stat().st_size for p in workdir.glob(f"{mode}.db-*"))
    ) / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--gzip", action="store_true", help="Also measure a gzip'd snapshot.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "DB", "SNAPSHOT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    from paperfeed.store.engine import make_engine
    from paperfeed.store.migrate import migrate

    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        work = Path(tmp)
        snapshot = work / "snapshot.jsonl"
        generate(snapshot, args.records)
        template = work / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        migrate(engine)
        engine.dispose()
        results = {
            "floor (bare executemany)": measure("floor", template, snapshot, work),
            "paperfeed ingest snapshot": measure("paperfeed", template, snapshot, work),
        }
        if args.gzip:
            gz = work / "snapshot.jsonl.gz"
            with snapshot.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst)
            results["paperfeed ingest snapshot (gzip)"] = measure("paperfeed", template, gz, work)
    floor = results["floor (bare executemany)"]["papers_per_s"]
    for row in results.values():
        row["floor_ratio"] = floor / row["papers_per_s"]
    if args.json:
        sys.stdout.write(json.dumps({"records": args.records, "results": results}, indent=2) + "\n")
        return
    print(f"snapshot ingestion, {args.records:,} synthetic records, SQLite, batch {BATCH}")
    header = ("run", "papers/s", "seconds", "× floor", "peak RSS MB", "DB MB")
    print(
        f"{header[0]:<36} "
        + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], (10, 8, 8, 12, 7), strict=True))
    )
    for name, row in results.items():
        print(
            f"{name:<36} {row['papers_per_s']:>10,.0f} {row['seconds']:>8.1f} "
            f"{row['floor_ratio']:>8.2f} {row['peak_rss_mb']:>12.0f} {row['db_mb']:>7.0f}"
        )


if __name__ == "__main__":
    main()
