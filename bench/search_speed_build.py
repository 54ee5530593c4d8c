"""bench/search_speed.py's build steps: embedding throughput and the corpus written to SQLite."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memory import peak_rss_mb
from search_speed_inputs import (
    BATCH,
    EMBED_CHUNK,
    Corpus,
    file_mb,
    progress,
    seed_papers,
    timed,
)


def child_throughput(cfg: dict[str, Any]) -> dict[str, Any]:
    """Papers/s of one embedder on real seed papers, in chunks of EMBED_CHUNK."""
    from paperfeed.index.embedders.embedder import load_embedder, paper_text

    real = seed_papers()[: cfg["docs"]]
    texts = [paper_text(t, a) for t, a in real]
    load_s, embedder = timed(lambda: load_embedder(cfg["embedder"]))
    embedder.embed(texts[:8])  # warm-up
    rounds = 0
    start = time.perf_counter()
    while True:
        for i in range(0, len(texts), EMBED_CHUNK):
            embedder.embed(texts[i : i + EMBED_CHUNK])
        rounds += 1
        if time.perf_counter() - start >= 1.0:
            break
    seconds = time.perf_counter() - start
    return {
        "name": embedder.name,
        "dim": embedder.dim,
        "docs": len(texts),
        "load_s": load_s,
        "papers_per_s": rounds * len(texts) / seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def _unit_random(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    matrix = rng.standard_normal((n, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def _part_sizes(db: Path) -> dict[str, float]:
    """MB on disk of the papers tables, the FTS5 index and the vectors (with their indexes)."""
    conn = sqlite3.connect(db)
    try:
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        sizes: Counter[str] = Counter()
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            if table.startswith("papers_fts"):
                part = "lexical"
            elif table == "paper_embeddings":
                part = "vectors"
            elif table.startswith("paper"):
                part = "papers"
            else:
                part = "other"
            sizes[part] += size
    finally:
        conn.close()
    return {part: sizes[part] / 2**20 for part in ("papers", "lexical", "vectors", "other")}


def _realistic(cfg: dict[str, Any], t: Counter[str]) -> tuple[Any, dict[str, int]]:
    """bench/corpus.py's real papers (their vectors embedded once, cached in
    ``real_cache``) and the synthesizer of the papers beyond them."""
    from corpus import Synthesizer, real_papers, real_vectors

    n = cfg["size"]
    real = real_papers(Path(cfg["data"]))[: min(n, cfg.get("real_max") or n)]
    progress(f"N={n:,}: vectors of {len(real):,} real papers (cached in {cfg['real_cache']})")
    seconds, (matrix, _) = timed(
        lambda: real_vectors(real, Path(cfg["real_cache"]), cfg["embedder"])
    )
    t["embed_s"] += seconds
    seconds, synthesizer = timed(lambda: Synthesizer(real, matrix))
    t["synthesize_s"] += seconds
    return synthesizer, {"real": len(real), "synthetic": n - len(real)}


def _words_kind(cfg: dict[str, Any]) -> dict[str, int]:
    n = cfg["size"]
    return {"real": n, "synthetic": 0} if cfg["real_vectors"] else {"random": n}


def _words_vectors(
    cfg: dict[str, Any],
    embedder: Any,
    batch: list[Any],
    rng: np.random.Generator,
    t: Counter[str],
    start: int,
) -> np.ndarray:
    """The word-resampled corpus's vectors: the model's, or random unit vectors."""
    from paperfeed.index.embedders.embedder import paper_text

    n = cfg["size"]
    if not cfg["real_vectors"]:
        seconds, matrix = timed(lambda: _unit_random(rng, len(batch), embedder.dim))
        t["random_vectors_s"] += seconds
        return matrix
    texts = [paper_text(p.title, p.abstract) for p in batch]
    chunk_start = time.perf_counter()
    parts = []
    for i in range(0, len(texts), EMBED_CHUNK):
        parts.append(embedder.embed(texts[i : i + EMBED_CHUNK]))
        if i % 1280 == 0 and i:
            rate = i / (time.perf_counter() - chunk_start)
            progress(f"N={n:,}: embedded {start + i:,} / {n:,} ({rate:.0f} papers/s)")
    t["embed_s"] += time.perf_counter() - chunk_start
    return np.concatenate(parts)


def child_build(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill a fresh database with the product's write calls, batch by batch."""
    from paperfeed.index.embedders.embedder import load_embedder
    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.vectors import in_memory as vectors
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate
    from paperfeed.store.papers import insert_papers

    n, db = cfg["size"], Path(cfg["db"])
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    embedder = load_embedder(cfg["embedder"])
    corpus = Corpus(seed_papers())
    rng = np.random.default_rng(12345)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    t = Counter[str]()
    started = time.perf_counter()
    synthesizer = None
    if cfg["corpus"] == "realistic":
        synthesizer, kinds = _realistic(cfg, t)
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        if synthesizer is not None:
            seconds, (titles, abstracts, matrix) = timed(
                lambda s=start, c=count: synthesizer.batch(s, c)
            )
            t["synthesize_s"] += seconds
            seconds, batch = timed(
                lambda s=start, ti=titles, ab=abstracts: corpus.dress(
                    np.random.default_rng([corpus.seed, s]), s, ti, ab
                )
            )
            t["generate_s"] += seconds
        else:
            seconds, batch = timed(lambda s=start, c=count: corpus.batch(s, c))
            t["generate_s"] += seconds
            matrix = _words_vectors(cfg, embedder, batch, rng, t, start)
        with writing(engine) as conn:
            seconds, ids = timed(lambda b=batch, c=conn: insert_papers(c, b, now))
            t["papers_s"] += seconds
            seconds, _ = timed(lambda i=ids, c=conn: lexical.sync(c, i))
            t["lexical_s"] += seconds
            mark = time.perf_counter()
            vectors.store_vectors(conn, embedder.name, ids, matrix)
            vectors.record_model(conn, embedder.name, embedder.dim)
            t["vectors_s"] += time.perf_counter() - mark
            mark = time.perf_counter()
        t["commit_s"] += time.perf_counter() - mark
        done = start + count
        elapsed = time.perf_counter() - started
        progress(f"N={n:,}: {done:,} / {n:,} papers written ({elapsed:,.0f} s)")
    progress(f"N={n:,}: building the tantivy word index")
    words = WordIndex(engine, Path(cfg["words_dir"]), background=False)
    t["tantivy_s"], _ = timed(words.refresh)
    total_s = time.perf_counter() - started
    wal_mb = file_mb(Path(f"{db}-wal"))
    engine.dispose()
    seconds, parts = timed(lambda: _part_sizes(db))
    progress(f"N={n:,}: built in {total_s:,.0f} s; dbstat took {seconds:.0f} s")
    return {
        **dict(t),
        "total_s": total_s,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "vectors": kinds if synthesizer is not None else _words_kind(cfg),
        "wal_mb_while_open": wal_mb,
        "parts_mb": parts,
        "peak_rss_mb": peak_rss_mb(),
    }
