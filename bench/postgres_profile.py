"""Where one hybrid search spends its time on PostgreSQL: statements, round trips, parts.

    python bench/postgres_profile.py --folder DIR/postgres-n100000 [--engine postgresql|sqlite]
        [--vector-backend auto|memory|database] [--queries 200] [--repeat 1] [--cprofile 40]
        [--timing-nice -10]
    python bench/postgres_profile.py --url URL --index-dir DIR ...

``--folder`` is a size's folder that ``bench/postgres.py --workdir DIR`` keeps: its
PostgreSQL data folder (``pgdata``, started here with the same wheel, stopped at the end)
and word index (``pg-index``), or with ``--engine sqlite`` its SQLite file and index
folder, for the same figures beside it. It loads the indexes as a server does
(``semantic_index`` and ``word_index`` from the settings, ``--vector-backend``: with
``auto`` the process's own index, loaded here in the call rather than behind pgvector;
``database``: pgvector), warms up over 20 queries, then, with the query cache emptied
before each search (so the model runs, as for a new query):

- counts what one hybrid search sends, from SQLAlchemy's events: connections checked out
  of the pool (on PostgreSQL pinged first only when idle a second or more, see
  ``paperfeed.store.engine``), transactions begun (psycopg sends ``BEGIN`` as a statement
  of its own), statements (SQLAlchemy's; pgvector's one script goes on the raw
  connection, not counted) and transactions ended: on a busy server the round trips are
  begun + statements + ended + 1 (pgvector's script);
- times ``search(..., mode="hybrid")`` end to end (p50 / p95 ms, over ``--repeat``
  passes) and each step of the hybrid path apart, as rank/search.py calls them;
- the CPU one search costs over those passes (``cpu_ms_per_search``): this process's
  (all its threads) and, with ``--folder`` on PostgreSQL, the server's (its processes'
  user + system time from /proc): what bounds a 2-core machine's capacity;
- with ``--cprofile N``: profiles N end-to-end searches (top 25 by cumulative and own time).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_speed_inputs import make_queries, seed_papers
from search_speed_profile import pct


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--folder", type=Path, help="A size's folder of bench/postgres.py.")
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--vector-backend", choices=("auto", "memory", "database"), default="auto")
    parser.add_argument("--url", help="The database (postgresql:// or sqlite:///).")
    parser.add_argument("--index-dir", type=Path, help="Its word index folder.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1, help="Timed passes over the queries.")
    parser.add_argument("--cprofile", type=int, default=0)
    parser.add_argument("--timing-nice", type=int, default=0)
    args = parser.parse_args()
    server = None
    args.server_pid = None
    if args.folder and args.engine == "postgresql":
        import postgres

        server, args.url = postgres.start_postgres(args.folder)
        args.index_dir = args.folder / "pg-index"
        pid_file = args.folder / "pgdata" / "postmaster.pid"
        args.server_pid = int(pid_file.read_text().split()[0])
    elif args.folder:
        args.url, args.index_dir = f"sqlite:///{args.folder / 'papers.db'}", args.folder / "index"
    if not args.url or not args.index_dir:
        parser.error("give --folder, or --url and --index-dir")
    try:
        profile(args)
    finally:
        if server is not None:
            server.cleanup()


def server_cpu(postmaster: int | None) -> float:
    """Seconds of CPU (user + system) used so far by the server's processes (0 without)."""
    if postmaster is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(stat.parent.name)
        if pid == postmaster:  # its own, and that of its children that ended
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif int(fields[1]) == postmaster:  # fields[1]: the parent's pid
            total += int(fields[11]) + int(fields[12])
    return total / tick


def profile(args: argparse.Namespace) -> None:
    from sqlalchemy import event

    from paperfeed.config import load_settings
    from paperfeed.index.lexical import database as lexical_db
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.index.query import parse_query
    from paperfeed.index.semantic import semantic_index
    from paperfeed.rank import search as search_module
    from paperfeed.rank.search import Fusion, search
    from paperfeed.store.engine import make_engine

    settings = load_settings(
        database_url=args.url, index_dir=str(args.index_dir), vector_backend=args.vector_backend
    )
    engine = make_engine(args.url)
    counts: collections.Counter[str] = collections.Counter()
    statements: list[str] = []

    def statement(*a: Any, **_: Any) -> None:
        counts["statements"] += 1
        statements.append(" ".join(str(a[2]).split())[:100])

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine.pool, "checkout", lambda *a: counts.update(["checkouts"]))
    event.listen(engine, "begin", lambda *a: counts.update(["transactions begun"]))
    event.listen(engine, "rollback", lambda *a: counts.update(["transactions ended"]))
    event.listen(engine, "commit", lambda *a: counts.update(["transactions ended"]))
    semantic = semantic_index(engine, settings)
    semantic.wait_for_graph = True  # the index a server ends up with, loaded in the call
    words = word_index(engine, settings)
    started = time.perf_counter()
    index = semantic.index()
    print(f"vector index {index.kind} ready in {time.perf_counter() - started:.1f} s", flush=True)
    if words is not None and words.work():
        print(f"word index: {words.work():,} changes to fold in first", flush=True)
        words.refresh()
    queries = [parse_query(q) for q in make_queries(seed_papers(), args.queries)]

    def forget() -> None:
        with semantic._queries_lock:
            semantic._queries.clear()

    def e2e(q: Any) -> Any:
        forget()
        return search(engine, semantic, q, mode="hybrid", limit=20, words=words)

    for q in queries[:20]:
        e2e(q)
    if args.timing_nice:
        os.nice(args.timing_nice)
    time.sleep(1.1)  # past the vector index's once-a-second refresh: count a search that does it
    counts.clear()
    statements.clear()
    e2e(queries[0])
    first = dict(counts)
    counts.clear()
    statements.clear()
    e2e(queries[1])  # within the second: no refresh
    out: dict[str, Any] = {
        "url": engine.url.render_as_string(hide_password=True),
        "vector_index": index.kind,
        "word_index": "tantivy" if words is not None else "database",
        "load_before": os.getloadavg()[0],
        "per_search_after_a_second": first,
        "per_search": dict(counts),
        "statements": list(statements),
    }
    times: list[float] = []
    cpu = (time.process_time(), server_cpu(args.server_pid))
    for _ in range(args.repeat):
        for q in queries:
            t0 = time.perf_counter()
            e2e(q)
            times.append(time.perf_counter() - t0)
    out["hybrid_e2e_ms"] = pct(times)
    out["cpu_ms_per_search"] = {
        "this_process": round(1000 * (time.process_time() - cpu[0]) / len(times), 2),
        "server": None
        if args.server_pid is None
        else round(1000 * (server_cpu(args.server_pid) - cpu[1]) / len(times), 2),
    }

    steps = ("embed", "mismatch", "words", "allowed", "vectors", "constrain", "fuse", "page")
    parts: dict[str, list[float]] = {k: [] for k in (*steps, "sum")}
    for q in queries:
        forget()
        marks = [time.perf_counter()]
        semantic.query_vector(q.semantic_text)
        marks.append(time.perf_counter())
        semantic.mismatch()
        marks.append(time.perf_counter())
        lex = (words.search(q, limit=100) if words is not None else None) or []
        marks.append(time.perf_counter())
        with engine.connect() as conn:
            allowed = lexical_db.allowed_ids(conn, q)
        marks.append(time.perf_counter())
        found = semantic.search(q.semantic_text, 100, allowed=allowed)
        marks.append(time.perf_counter())
        kept = (
            words.constrain(q, [h.paper_id for h in found]) if words is not None else None
        ) or []
        marks.append(time.perf_counter())
        keep = set(kept)
        fused = Fusion().fuse(lex, [h for h in found if h.paper_id in keep])
        marks.append(time.perf_counter())
        search_module._page(engine, q, "hybrid", fused, offset=0, limit=20, notice=None)
        marks.append(time.perf_counter())
        for key, a, b in zip(steps, marks, marks[1:], strict=False):
            parts[key].append(b - a)
        parts["sum"].append(marks[-1] - marks[0])
    out["parts_ms"] = {k: pct(v) for k, v in parts.items()}
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1), flush=True)

    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        for q in queries[: args.cprofile]:
            e2e(q)
        profile.disable()
        for order in ("cumulative", "tottime"):
            buffer = io.StringIO()
            pstats.Stats(profile, stream=buffer).sort_stats(order).print_stats(25)
            print(buffer.getvalue())
    engine.dispose()


if __name__ == "__main__":
    main()
