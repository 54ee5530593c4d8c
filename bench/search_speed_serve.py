"""bench/search_speed.py's serve step: the indexes loaded as a server does, every search timed."""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

import numpy as np

from memory import peak_rss_mb, rss_mb
from search_speed_inputs import (
    EXACT_MAX,
    LIMIT,
    TOP,
    WARMUP,
    K,
    progress,
    stats,
    timed,
    timing_priority,
)


def make_cached_index() -> type:
    from paperfeed.index.semantic import SemanticIndex

    class CachedQueryIndex(SemanticIndex):
        """A SemanticIndex whose query vectors were computed beforehand by the real model.

        The test seam that keeps model calls out of search latencies: ``query_vector``
        returns the stored vector for a text, and falls back to the model for any other.
        With ``use_cached`` False it is the product's own (the model, and its cache of
        recent queries, which :meth:`forget` empties: end-to-end timings call it first).
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.cached: dict[str, np.ndarray] = {}
            self.use_cached = True

        def query_vector(self, text: str) -> np.ndarray:
            found = self.cached.get(text) if self.use_cached else None
            return found if found is not None else super().query_vector(text)

        def forget(self) -> None:
            """Drop the recent query vectors, so the next query calls the model."""
            with self._queries_lock:
                self._queries.clear()

    return CachedQueryIndex


def child_serve(cfg: dict[str, Any]) -> dict[str, Any]:
    """Load the semantic index as a server does and time every search mode."""
    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.query import fts5_match, parse_query
    from paperfeed.models import Hit
    from paperfeed.rank.fusion import normalised_combination
    from paperfeed.rank.search import search
    from paperfeed.store.engine import make_engine
    from paperfeed.store.papers import read_papers

    n = cfg["size"]
    engine = make_engine(f"sqlite:///{cfg['db']}")
    cache_dir = Path(cfg["cache_dir"])
    cached_index = make_cached_index()
    semantic = cached_index(
        engine, embedder=cfg["embedder"], exact_max=cfg["exact_max"], cache_dir=cache_dir
    )
    # A graph missing from the cache is built here and timed, as the docstring of
    # bench/search_speed.py says: without this the product searches exactly while a
    # background thread builds it, and this process would time (and exit) before it is done.
    semantic.wait_for_graph = True
    out: dict[str, Any] = {}
    out["model_load_s"], _ = timed(lambda: semantic.embedder)
    progress(f"N={n:,}: loading the vector index (an HNSW graph is built above {EXACT_MAX:,})")
    out["index_load_s"], index = timed(semantic.index)
    out["index_kind"], out["index_origin"] = index.kind, index.origin
    words = WordIndex(engine, cache_dir, background=False)
    out["words_open_s"], _ = timed(lambda: words.search(parse_query("warm up"), limit=1))
    assert words.work() == 0, "the word index built with the corpus is in step"
    progress(f"N={n:,}: vector index {index.kind} loaded in {out['index_load_s']:.1f} s")

    queries = [parse_query(q) for q in cfg["queries"]]
    texts = [q.semantic_text for q in queries]
    timing_priority(cfg)
    semantic.query_vector("warm up the model")
    embed_times, vecs = [], []
    for text in texts:
        seconds, vec = timed(lambda x=text: semantic.query_vector(x))
        embed_times.append(seconds)
        vecs.append(vec)
    semantic.cached = dict(zip(texts, vecs, strict=True))
    np.save(cfg["query_vectors"], np.stack(vecs).astype(np.float32))
    out["query_embedding_ms"] = stats(embed_times)

    lat: dict[str, list[float]] = {
        name: []
        for name in (
            "lexical",
            "lexical_fts5",
            "semantic",
            "hybrid",
            "hybrid_e2e",
            "search_lexical",
            "search_semantic",
            "part_lexical",
            "part_vector",
            "part_constrain",
            "part_fusion",
            "part_load",
            "parts_total",
            "fts_unranked",
            "fts_count",
        )
    }
    top: dict[str, list[list[int]]] = {"lexical": [], "lexical_fts5": [], "semantic": []}
    matches: list[int] = []

    def run_modes(measure: bool) -> None:
        order = range(len(queries)) if measure else range(min(WARMUP, len(queries)))
        for i in order:
            seconds, hits = timed(lambda q=queries[i]: words.search(q, limit=K) or [])
            if measure:
                lat["lexical"].append(seconds)
                top["lexical"].append([h.paper_id for h in hits[:TOP]])
        with engine.connect() as conn:
            for i in order:
                seconds, hits = timed(lambda q=queries[i], c=conn: lexical.search(c, q, limit=K))
                if measure:
                    lat["lexical_fts5"].append(seconds)
                    top["lexical_fts5"].append([h.paper_id for h in hits[:TOP]])
            for i in order:
                seconds, found = timed(lambda v=vecs[i]: index.search(v, K))
                if measure:
                    lat["semantic"].append(seconds)
                    top["semantic"].append([pid for pid, _ in found[:TOP]])
        for mode, key in (("hybrid", "hybrid"), ("lexical", "search_lexical")):
            for i in order:
                seconds, _ = timed(
                    lambda q=queries[i], m=mode: search(
                        engine, semantic, q, mode=m, limit=LIMIT, words=words
                    )
                )
                if measure:
                    lat[key].append(seconds)
        semantic.use_cached = False  # end to end: the query is embedded inside search()
        for i in order:
            semantic.forget()
            seconds, _ = timed(
                lambda q=queries[i]: search(
                    engine, semantic, q, mode="hybrid", limit=LIMIT, words=words
                )
            )
            if measure:
                lat["hybrid_e2e"].append(seconds)
        semantic.use_cached = True
        for i in order:
            seconds, _ = timed(
                lambda q=queries[i]: search(engine, semantic, q, mode="semantic", limit=LIMIT)
            )
            if measure:
                lat["search_semantic"].append(seconds)

    def run_parts() -> None:
        """The hybrid path of rank/search.py, one part at a time (no filters in these queries)."""
        with engine.connect() as conn:
            for query, vec in zip(queries, vecs, strict=True):
                t0 = time.perf_counter()
                lex = words.search(query, limit=K) or []
                t1 = time.perf_counter()
                found = [Hit(pid, s) for pid, s in semantic.index().search(vec, K)]
                t2 = time.perf_counter()
                kept = set(words.constrain(query, [h.paper_id for h in found]) or [])
                sem = [h for h in found if h.paper_id in kept]
                t3 = time.perf_counter()
                fused = normalised_combination(lex, sem, alpha=0.7)
                t4 = time.perf_counter()
                read_papers(conn, [h.paper_id for h in fused[:LIMIT]])
                t5 = time.perf_counter()
                for key, seconds in (
                    ("part_lexical", t1 - t0),
                    ("part_vector", t2 - t1),
                    ("part_constrain", t3 - t2),
                    ("part_fusion", t4 - t3),
                    ("part_load", t5 - t4),
                    ("parts_total", t5 - t0),
                ):
                    lat[key].append(seconds)

    def run_diagnosis() -> None:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for query in queries:
                match = fts5_match(query)
                seconds, _ = timed(
                    lambda m=match: cur.execute(
                        "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?", (m, K)
                    ).fetchall()
                )
                lat["fts_unranked"].append(seconds)
                seconds, rows = timed(
                    lambda m=match: cur.execute(
                        "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?", (m,)
                    ).fetchone()
                )
                lat["fts_count"].append(seconds)
                matches.append(int(rows[0]))
        finally:
            raw.close()

    progress(f"N={n:,}: timing {len(queries)} queries")
    run_modes(measure=False)
    run_modes(measure=True)
    run_parts()
    run_diagnosis()
    out["latency_ms"] = {name: stats(values) for name, values in lat.items()}
    lexical_s = np.asarray(lat["lexical"])
    matched = np.asarray(matches, dtype=np.float64)
    slow = lexical_s >= np.percentile(lexical_s, 90)
    varied = bool(matched.std() > 0 and lexical_s.std() > 0)
    out["lexical_matches"] = {
        "median": float(np.median(matched)),
        "median_share": float(np.median(matched) / n),
        "slowest_tenth_median": float(np.median(matched[slow])),
        "correlation_with_latency": float(np.corrcoef(matched, lexical_s)[0, 1]) if varied else 0.0,
        # least-squares slope of the ranked query's latency on the number of papers matched
        "ms_per_100k_matches": float(np.polyfit(matched, lexical_s, 1)[0] * 1e8) if varied else 0.0,
    }
    out["top"] = top
    out["rss_mb_after_queries"] = rss_mb()
    out["peak_rss_mb"] = peak_rss_mb()

    if index.kind == "hnsw":
        del index, semantic
        gc.collect()
        again = cached_index(
            engine, embedder=cfg["embedder"], exact_max=cfg["exact_max"], cache_dir=cache_dir
        )
        again.wait_for_graph = True
        _ = again.embedder
        out["index_reload_s"], reloaded = timed(again.index)
        out["index_reload_origin"] = reloaded.origin
    engine.dispose()
    return out
