"""bench/search_speed.py's peers: the NumPy floor for vector search and bm25s for words."""

from __future__ import annotations

import gc
import sqlite3
import time
from typing import Any

import numpy as np

from memory import peak_rss_mb
from search_speed_inputs import TOP, WARMUP, K, stats, timed, timing_priority


def child_floor(cfg: dict[str, Any]) -> dict[str, Any]:
    """NumPy brute force over the same vectors: matrix @ q, argpartition, sort of the top k."""
    from paperfeed.index.vectors import in_memory as vectors
    from paperfeed.store.engine import make_engine

    engine = make_engine(f"sqlite:///{cfg['db']}")
    with engine.connect() as conn:
        load_s, (ids, matrix) = timed(lambda: vectors.load_vectors(conn, cfg["model"]))
    engine.dispose()
    queries = np.load(cfg["query_vectors"])
    k = min(K, len(ids))
    timing_priority(cfg)

    def one(q: np.ndarray) -> np.ndarray:
        scores = matrix @ q
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part])]

    for q in queries[:WARMUP]:
        one(q)
    times, top = [], []
    for q in queries:
        seconds, best = timed(lambda v=q: one(v))
        times.append(seconds)
        top.append(ids[best[:TOP]].tolist())
    return {
        "load_s": load_s,
        "latency_ms": stats(times),
        "top": top,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_bm25s(cfg: dict[str, Any]) -> dict[str, Any]:
    """bm25s over the same titles and abstracts (read back from the file), same query words."""
    import bm25s
    import Stemmer

    from paperfeed.index.query import parse_query

    conn = sqlite3.connect(cfg["db"])
    rows = conn.execute("SELECT id, title, abstract FROM papers ORDER BY id").fetchall()
    conn.close()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    texts = [f"{r[1]}\n{r[2]}" for r in rows]
    del rows
    stemmer = Stemmer.Stemmer("english")
    mark = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    tokenize_s = time.perf_counter() - mark
    del texts
    retriever = bm25s.BM25()
    mark = time.perf_counter()
    retriever.index(tokens, show_progress=False)
    index_s = time.perf_counter() - mark
    del tokens
    gc.collect()
    words = [parse_query(q).semantic_text for q in cfg["queries"]]
    k = min(K, len(ids))
    timing_priority(cfg)

    def one(text: str) -> np.ndarray:
        query = bm25s.tokenize(
            [text], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        docs, _ = retriever.retrieve(query, k=k, show_progress=False)
        return np.asarray(docs[0])

    for text in words[:WARMUP]:
        one(text)
    times, top = [], []
    for text in words:
        seconds, docs = timed(lambda x=text: one(x))
        times.append(seconds)
        top.append(ids[docs[:TOP]].tolist())
    return {
        "tokenize_s": tokenize_s,
        "index_s": index_s,
        "latency_ms": stats(times),
        "top": top,
        "peak_rss_mb": peak_rss_mb(),
    }
