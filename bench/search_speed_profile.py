"""Where one hybrid search spends its time, on a corpus kept by bench/search_speed.py.

    python bench/search_speed_profile.py --folder /work/bench-data/ss/n100000 \
        [--queries 200] [--cprofile 40] [--timing-nice -10]

Loads the indexes as a server does (the product's ``SemanticIndex`` and ``WordIndex`` over
the kept SQLite file and index folder; read only), then, for each query with the query
cache emptied (so the model runs, as for a new query):

- times ``search(..., mode="hybrid")`` end to end (p50 / p95 ms);
- counts the SQL statements one search sends (SQLAlchemy's ``before_cursor_execute``);
- times each step of the hybrid path apart (both journal versions in one statement,
  embedding, word index, vector index with its refresh check given that version, as
  search() does, fusion, hiding and loading the page);
- with ``--cprofile N``: profiles N end-to-end searches and prints the 25 functions with
  the most cumulative and the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_speed_inputs import make_queries, seed_papers


def pct(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cprofile", type=int, default=0)
    parser.add_argument("--timing-nice", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the queries")
    parser.add_argument(
        "--ab",
        action="store_true",
        help="also time each query with the meaning half on the calling thread, interleaved",
    )
    args = parser.parse_args()

    from sqlalchemy import event

    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.query import parse_query
    from paperfeed.index.semantic import SemanticIndex
    from paperfeed.rank import search as search_module
    from paperfeed.rank import search_halves
    from paperfeed.rank.search import Fusion, search
    from paperfeed.store import moderation
    from paperfeed.store import papers as store
    from paperfeed.store.engine import make_engine

    folder = args.folder
    engine = make_engine(f"sqlite:///{folder / 'papers.db'}")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.append(str(a[2])[:80]))
    semantic = SemanticIndex(
        engine, embedder="minilm", exact_max=50_000, cache_dir=folder / "index"
    )
    semantic.wait_for_graph = True  # a graph missing from the cache: built here, not behind
    words = WordIndex(engine, folder / "index", background=False)
    start = time.perf_counter()
    index = semantic.index()
    print(f"vector index {index.kind} loaded in {time.perf_counter() - start:.1f} s", flush=True)
    texts = make_queries(seed_papers(), args.queries)
    queries = [parse_query(q) for q in texts]

    def forget() -> None:
        with semantic._queries_lock:
            semantic._queries.clear()

    def e2e(q):  # type: ignore[no-untyped-def]
        forget()
        return search(engine, semantic, q, mode="hybrid", limit=20, words=words)

    for q in queries[:20]:
        e2e(q)
    if args.timing_nice:
        os.nice(args.timing_nice)
    statements.clear()
    e2e(queries[0])
    per_search = list(statements)
    out: dict[str, object] = {"load_before": os.getloadavg()[0], "statements": per_search}

    times: list[float] = []
    for _ in range(args.repeat):
        for q in queries:
            t0 = time.perf_counter()
            e2e(q)
            times.append(time.perf_counter() - t0)
    out["hybrid_e2e_ms"] = pct(times)
    if args.ab:
        # Both ways forced (search_halves.overlap), so the machine's load does not choose for them:
        # the two halves at once on two threads, or one after the other on this one.
        gate = search_halves.overlap
        pairs: dict[str, list[float]] = {"threads": [], "inline": []}
        for _ in range(args.repeat):
            for q in queries:
                for name, overlap in (("threads", True), ("inline", False)):
                    search_halves.overlap = lambda o=overlap: o  # type: ignore[misc]
                    t0 = time.perf_counter()
                    e2e(q)
                    pairs[name].append(time.perf_counter() - t0)
        search_halves.overlap = gate  # type: ignore[assignment]
        out["ab_e2e_ms"] = {k: pct(v) for k, v in pairs.items()}

    parts: dict[str, list[float]] = {
        k: []
        for k in (
            "versions",
            "embed",
            "words",
            "index_refresh",
            "graph",
            "constrain",
            "fuse",
            "page",
            "sum",
        )
    }
    for q in queries:
        forget()
        # As search() does: both journal versions in one statement, handed to the indexes.
        tv = time.perf_counter()
        versions, allowed = search_halves.read_first(engine, semantic, words, q, "hybrid")
        word_version = versions.get(search_halves.word_journal)
        vector_version = versions.get(semantic.journal_name())
        t0 = time.perf_counter()
        semantic.query_vector(q.semantic_text)
        t1 = time.perf_counter()
        lex = words.search(q, limit=100, version=word_version) or []
        t2 = time.perf_counter()
        idx = semantic.index(vector_version)
        t3 = time.perf_counter()
        found = semantic.search(q.semantic_text, 100, allowed=allowed, version=vector_version)
        t4 = time.perf_counter()
        kept = words.constrain(q, [h.paper_id for h in found], version=word_version) or []
        t5 = time.perf_counter()
        keep = set(kept)
        fused = Fusion().fuse(lex, [h for h in found if h.paper_id in keep])
        t6 = time.perf_counter()
        search_module._page(engine, q, "hybrid", fused, offset=0, limit=20, notice=None)
        t7 = time.perf_counter()
        for key, value in zip(
            parts,
            (t0 - tv, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t7 - tv),
            strict=True,
        ):
            parts[key].append(value)
        del idx
    out["parts_ms"] = {k: pct(v) for k, v in parts.items()}
    with engine.connect() as conn:
        ids = [h.paper_id for h in e2e(queries[0]).hits]
        t = []
        for _ in range(200):
            t0 = time.perf_counter()
            moderation.hidden_among(conn, ids * 5)
            store.read_papers(conn, ids)
            t.append(time.perf_counter() - t0)
    out["hide_and_read_20_ms"] = pct(t)
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


if __name__ == "__main__":
    main()
