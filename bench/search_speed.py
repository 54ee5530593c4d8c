"""Search speed, memory and disk at 10 k, 100 k and 1 M papers, with bm25s and NumPy beside it.

    python bench/search_speed.py [--sizes 10000,100000,1000000] [--queries 200]
                                 [--real-vectors-max 10000] [--embedder minilm]
                                 [--throughput-embedders minilm,static] [--throughput-docs 500]
                                 [--blas-threads N] [--workdir DIR] [--timing-nice N] [--json]
    python bench/search_speed.py --table-from saved.json

Corpus. For each size N, a fresh migrated SQLite file is filled with N synthetic papers,
in batches of 10 k: titles and abstracts are words resampled (by their frequency) from
the real titles and abstracts of ../shared/data/seed_pages.jsonl, with lengths resampled
from them too; authors are drawn from a small pool of made-up names. Each batch is one
write transaction of the product's own calls: ``insert_papers``, ``lexical.sync`` (FTS5
and the change journal), ``vectors.store_vectors`` + ``vectors.record_model``; then the
tantivy word index is built from the file (``WordIndex.refresh``), as ``paperfeed ingest``
does at the end of a run. Vectors come from the real embedder
(``--embedder``, minilm by default) up to ``--real-vectors-max`` papers; larger corpora
get random unit vectors of the embedder's dimension (384 for minilm), and the table says
so. Random vectors have no neighbourhoods, so an HNSW graph built on them is slower to
build and finds few true neighbours (docs/stack.md): at sizes above ``exact_max`` the
semantic recall row shows it, and its latency is only indicative.

Queries. ``--queries`` queries (200 by default) of 2-4 words drawn from the 300 most
frequent non-stopwords of the real abstracts; every tenth also holds a quoted two-word
phrase that occurs in them. The same queries go to every engine.

Each step runs in its own subprocess, so each peak RSS (``ru_maxrss``) is its own:

1. ``build``: generate + insert + index as above (papers, lexical and vector store times);
   afterwards the on-disk size per part (``dbstat``) and of the file (+ -wal);
2. ``serve``: what a server process holds: ``SemanticIndex(engine, embedder=...,
   exact_max=50_000, cache_dir=...)``, its model load and its vector index load (an HNSW
   graph is built above ``exact_max`` and saved to the cache; a second load from the
   cache is timed too). Each query is embedded by the real model (one call per query,
   as search does): that is "query embedding", timed on its own and kept out of every
   search latency below, which use the precomputed vectors:
   - lexical: ``WordIndex.search(query, limit=100)`` (tantivy, bm25 with block-max
     pruning: what search() uses on SQLite), and ``lexical.search(conn, query, limit=100)``
     (FTS5, bm25, OR of the terms: the fallback, and what the web used before);
   - semantic: ``semantic.index().search(vector, 100)``;
   - hybrid: the product's ``search(engine, semantic, query, mode="hybrid", limit=20)``,
     end to end (tantivy, filters, constraint of phrases, fusion, loading the 20 papers), with
     :class:`CachedQueryIndex`, a ``SemanticIndex`` whose ``query_vector`` returns the
     precomputed vector (the one test seam; nothing is monkeypatched). Its parts are
     also timed one by one, the way ``rank/search.py`` calls them;
   - diagnosis: per query, the number of papers the FTS5 expression matches, and the
     same MATCH unranked (``LIMIT 100``) and counted (``count(*)``), which separate
     walking the posting lists from scoring and sorting every match by bm25;
3. ``bm25s``: the peer for lexical search: bm25s (English stopwords, Snowball stemmer)
   over the same title + abstract texts read back from the file, the same query words,
   k=100, one query at a time (tokenising the query included);
4. ``floor``: the floor for semantic search: the same vectors in one NumPy matrix,
   ``matrix @ q`` + ``argpartition`` + sort of the top 100, over the same query vectors;
   its top 10 is the truth for the semantic recall@10 of the product's index.

``--workdir DIR`` keeps each size's file, word index and HNSW cache under ``DIR/n<size>``
and a later run with the same ``DIR`` reuses them (the build figures are those of the run
that built them; the vector index then loads from its cache file, and the table says so).
``--timing-nice N`` runs the timed loops (not the builds) at ``nice N`` (negative needs
root), so other jobs on a shared machine do not preempt the measured process.

Latencies are p50 / p95 in milliseconds over all queries, after a warm-up pass over
20 of them. Ratios are paperfeed / peer on p50 (above 1: paperfeed is slower).
Embedding throughput: each bundled embedder (own subprocess) embeds ``--throughput-docs``
real seed papers (``paper_text``) in chunks of 64, as ``SemanticIndex`` does.

Targets (printed with PASS / FAIL): hybrid p95 <= 10 ms at 100 k papers and <= 50 ms at
1 M; peak RSS of the serving process <= 3 GB at 1 M. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "data" / "seed_pages.jsonl"

BATCH = 10_000  # papers generated and written per transaction
EMBED_CHUNK = 64  # texts per embedder call (as SemanticIndex.embed_papers)
K = 100  # candidates per engine (rank/search.py's CANDIDATES)
LIMIT = 20  # results per page of search()
TOP = 10  # recall / overlap depth
EXACT_MAX = 50_000  # the vector_exact_max setting's default
VOCABULARY = 300  # frequent non-stopwords queries draw from
WARMUP = 20
TARGETS = (  # (what, size, limit, unit)
    ("hybrid p95", 100_000, 10.0, "ms"),
    ("hybrid p95", 1_000_000, 50.0, "ms"),
    ("serve peak RSS", 1_000_000, 3072.0, "MB"),
)
FIRST_NAMES = (
    "Ada Alan Ana Bo Chen Dan Elena Emil Fatima Hao Ines Ivan Jia Jun Kai Lars Lea Li Maria "
    "Mei Min Nadia Noah Omar Pedro Priya Rui Sara Sofia Tariq Wei Xin Yara Yuki Zoe"
)
LAST_NAMES = (
    "Abe Bauer Chen Costa Dubois Ekström Garcia Gupta Hansen Ito Jensen Kim Kowalski Lee "
    "Li Lopez Martin Meyer Moreau Nguyen Novak Okafor Park Patel Rossi Sato Schmidt Silva "
    "Singh Smith Tanaka Wang Weber Wu Yang Zhang Zhou"
)
CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "cs.AI", "cs.IR", "cs.RO", "stat.ML", "cs.NE", "eess.IV")


# --- inputs ----------------------------------------------------------------------------------


def seed_papers() -> list[tuple[str, str]]:
    """(title, abstract) of the unique real seed papers, in file order."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for line in SEED.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["title"] not in seen and row.get("abstract"):
            seen.add(row["title"])
            out.append((" ".join(row["title"].split()), " ".join(row["abstract"].split())))
    return out


class Corpus:
    """Synthetic papers shaped like the seed papers; batch ``start`` is the same every run."""

    def __init__(self, real: Sequence[tuple[str, str]], seed: int = 7) -> None:
        self.seed = seed
        self.title_words = [w for title, _ in real for w in title.split()]
        self.abstract_words = [w for _, abstract in real for w in abstract.split()]
        self.title_lengths = np.array([max(3, len(t.split())) for t, _ in real])
        self.abstract_lengths = np.array([max(20, len(a.split())) for _, a in real])
        self.authors = [f"{f} {s}" for f in FIRST_NAMES.split() for s in LAST_NAMES.split()]

    @staticmethod
    def _texts(rng: np.random.Generator, words: list[str], lengths: np.ndarray) -> list[str]:
        picked = [words[i] for i in rng.integers(0, len(words), int(lengths.sum())).tolist()]
        ends = np.cumsum(lengths).tolist()
        starts = [0, *ends[:-1]]
        return [" ".join(picked[a:b]) for a, b in zip(starts, ends, strict=True)]

    def batch(self, start: int, count: int) -> list[Any]:
        """Papers ``start`` .. ``start + count - 1`` (``paperfeed.models.Paper``)."""
        from paperfeed.models import Paper

        rng = np.random.default_rng([self.seed, start])
        titles = self._texts(rng, self.title_words, rng.choice(self.title_lengths, count))
        abstracts = self._texts(rng, self.abstract_words, rng.choice(self.abstract_lengths, count))
        n_authors = rng.integers(1, 7, count).tolist()
        author_picks = rng.integers(0, len(self.authors), sum(n_authors)).tolist()
        n_cats = rng.integers(1, 4, count).tolist()
        pick = random.Random(self.seed * 1_000_003 + start)
        epoch = datetime(2015, 1, 1, tzinfo=UTC)
        papers = []
        taken = 0
        for j in range(count):
            i = start + j
            names = (self.authors[a] for a in author_picks[taken : taken + n_authors[j]])
            authors = tuple(dict.fromkeys(names))
            taken += n_authors[j]
            cats = tuple(pick.sample(CATEGORIES, n_cats[j]))
            papers.append(
                Paper(
                    title=titles[j],
                    abstract=abstracts[j],
                    arxiv_id=f"{1501 + i // 99_999:04d}.{i % 99_999 + 1:05d}",
                    version=1,
                    authors=authors,
                    categories=cats,
                    primary_category=cats[0],
                    published_at=epoch + timedelta(minutes=5 * i),
                    source="bench",
                )
            )
        return papers


def make_queries(real: Sequence[tuple[str, str]], n: int, seed: int = 11) -> list[str]:
    """2-4 frequent non-stopwords of the real abstracts; every tenth with a quoted phrase."""
    from paperfeed.index.query import STOPWORDS

    tokens = [re.findall(r"\w+", abstract.lower()) for _, abstract in real]
    counts = Counter(w for words in tokens for w in words)
    vocab = [
        w for w, _ in counts.most_common() if w not in STOPWORDS and len(w) > 2 and w.isalpha()
    ][:VOCABULARY]
    known = set(vocab)
    bigrams = Counter(
        (a, b)
        for words in tokens
        for a, b in itertools.pairwise(words)
        if a in known and b in known and a != b
    )
    phrases = [f"{a} {b}" for (a, b), _ in bigrams.most_common(40)]
    rng = random.Random(seed)
    queries = []
    for i in range(n):
        words = rng.sample(vocab, rng.randint(2, 4))
        if i % 10 == 9 and phrases:
            queries.append(f'"{rng.choice(phrases)}" ' + " ".join(words[: rng.randint(1, 2)]))
        else:
            queries.append(" ".join(words))
    return queries


# --- helpers ---------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def progress(message: str) -> None:
    sys.stderr.write(f"[search_speed {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def stats(values_s: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds."""
    ms = np.asarray(values_s, dtype=np.float64) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "mean": float(ms.mean())}


def timing_priority(cfg: dict[str, Any]) -> None:
    """Raise (or lower) this process's priority for its timed loops (``--timing-nice``)."""
    if cfg.get("timing_nice"):
        os.nice(int(cfg["timing_nice"]))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def file_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def tree_mb(folder: Path) -> float:
    return (
        sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        if folder.exists()
        else 0.0
    )


# --- children --------------------------------------------------------------------------------


def child_throughput(cfg: dict[str, Any]) -> dict[str, Any]:
    """Papers/s of one embedder on real seed papers, in chunks of EMBED_CHUNK."""
    from paperfeed.index.embedder import load_embedder, paper_text

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


def child_build(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill a fresh database with the product's write calls, batch by batch."""
    from paperfeed.index import lexical, vectors
    from paperfeed.index.embedder import load_embedder, paper_text
    from paperfeed.index.lexical_tantivy import WordIndex
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate
    from paperfeed.store.papers import insert_papers

    n, db, real_vectors = cfg["size"], Path(cfg["db"]), cfg["real_vectors"]
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    embedder = load_embedder(cfg["embedder"])
    corpus = Corpus(seed_papers())
    rng = np.random.default_rng(12345)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    t = Counter[str]()
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        seconds, batch = timed(lambda s=start, c=count: corpus.batch(s, c))
        t["generate_s"] += seconds
        if real_vectors:
            texts = [paper_text(p.title, p.abstract) for p in batch]
            chunk_start = time.perf_counter()
            parts = []
            for i in range(0, len(texts), EMBED_CHUNK):
                parts.append(embedder.embed(texts[i : i + EMBED_CHUNK]))
                if i % 1280 == 0 and i:
                    done = start + i
                    rate = i / (time.perf_counter() - chunk_start)
                    progress(f"N={n:,}: embedded {done:,} / {n:,} ({rate:.0f} papers/s)")
            matrix = np.concatenate(parts)
            t["embed_s"] += time.perf_counter() - chunk_start
        else:
            seconds, matrix = timed(lambda c=count: _unit_random(rng, c, embedder.dim))
            t["random_vectors_s"] += seconds
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
        "wal_mb_while_open": wal_mb,
        "parts_mb": parts,
        "peak_rss_mb": peak_rss_mb(),
    }


def _make_cached_index() -> type:
    from paperfeed.index.semantic import SemanticIndex

    class CachedQueryIndex(SemanticIndex):
        """A SemanticIndex whose query vectors were computed beforehand by the real model.

        The test seam that keeps model calls out of search latencies: ``query_vector``
        returns the stored vector for a text, and falls back to the model for any other.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.cached: dict[str, np.ndarray] = {}

        def query_vector(self, text: str) -> np.ndarray:
            found = self.cached.get(text)
            return found if found is not None else super().query_vector(text)

    return CachedQueryIndex


def child_serve(cfg: dict[str, Any]) -> dict[str, Any]:
    """Load the semantic index as a server does and time every search mode."""
    from paperfeed.index import lexical
    from paperfeed.index.lexical_tantivy import WordIndex
    from paperfeed.index.query import fts5_match, parse_query
    from paperfeed.models import Hit
    from paperfeed.rank.fusion import normalised_combination
    from paperfeed.rank.search import search
    from paperfeed.store.engine import make_engine
    from paperfeed.store.papers import read_papers

    n = cfg["size"]
    engine = make_engine(f"sqlite:///{cfg['db']}")
    cache_dir = Path(cfg["cache_dir"])
    cached_index = _make_cached_index()
    semantic = cached_index(
        engine, embedder=cfg["embedder"], exact_max=cfg["exact_max"], cache_dir=cache_dir
    )
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
    out["peak_rss_mb"] = peak_rss_mb()

    if index.kind == "hnsw":
        del index, semantic
        gc.collect()
        again = cached_index(
            engine, embedder=cfg["embedder"], exact_max=cfg["exact_max"], cache_dir=cache_dir
        )
        _ = again.embedder
        out["index_reload_s"], reloaded = timed(again.index)
        out["index_reload_origin"] = reloaded.origin
    engine.dispose()
    return out


def child_floor(cfg: dict[str, Any]) -> dict[str, Any]:
    """NumPy brute force over the same vectors: matrix @ q, argpartition, sort of the top k."""
    from paperfeed.index import vectors
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


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "throughput": child_throughput,
    "build": child_build,
    "serve": child_serve,
    "floor": child_floor,
    "bm25s": child_bm25s,
}


def run_child(
    role: str,
    cfg: dict[str, Any],
    work: Path,
    *,
    script: str = __file__,
    name: str | None = None,
) -> dict[str, Any]:
    """Run one step (``script --child role CONFIG``) in a fresh interpreter; stderr
    (progress) passes through; the step's config is written to ``work/<name or role>.json``."""
    path = work / f"{name or role}.json"
    path.write_text(json.dumps(cfg))
    out = subprocess.run(
        [sys.executable, script, "--child", role, str(path)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- the run ---------------------------------------------------------------------------------


def overlap(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    """Mean share of each truth list's ids found in the other list (recall@len(truth))."""
    shares = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return float(np.mean(shares)) if shares else 0.0


def measure_size(size: int, args: argparse.Namespace, queries: list[str], work: Path) -> dict:
    folder = work / f"n{size}"
    db = folder / "papers.db"
    kept = folder / "build.json"
    real_vectors = size <= args.real_vectors_max
    if kept.exists() and db.exists():
        progress(f"N={size:,}: reusing the corpus built in {folder}")
        build, disk_after_build = json.loads(kept.read_text())
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        progress(f"N={size:,}: building ({'real' if real_vectors else 'random'} vectors)")
        build = run_child(
            "build",
            {
                "size": size,
                "db": str(db),
                "embedder": args.embedder,
                "real_vectors": real_vectors,
                "words_dir": str(folder / "index"),
            },
            folder,
        )
        disk_after_build = {"db_mb": file_mb(db), "wal_mb": file_mb(Path(f"{db}-wal"))}
        if args.workdir:
            kept.write_text(json.dumps([build, disk_after_build]))
    common = {"size": size, "db": str(db), "queries": queries, "timing_nice": args.timing_nice}
    serve = run_child(
        "serve",
        {
            **common,
            "embedder": args.embedder,
            "exact_max": EXACT_MAX,
            "cache_dir": str(folder / "index"),
            "query_vectors": str(folder / "queries.npy"),
        },
        folder,
    )
    progress(f"N={size:,}: NumPy floor")
    floor = run_child(
        "floor",
        {**common, "model": build["embedder"], "query_vectors": str(folder / "queries.npy")},
        folder,
    )
    progress(f"N={size:,}: bm25s")
    bm25 = run_child("bm25s", common, folder)
    disk = {
        **disk_after_build,
        "db_wal_mb": disk_after_build["db_mb"] + disk_after_build["wal_mb"],
        "wal_mb_while_open": build["wal_mb_while_open"],
        "parts_mb": build.get("parts_mb"),
        "tantivy_mb": sum(tree_mb(p) for p in (folder / "index").glob("words-*")),
        "hnsw_cache_mb": tree_mb(folder / "index")
        - sum(tree_mb(p) for p in (folder / "index").glob("words-*")),
    }
    lat = serve["latency_ms"]
    result = {
        "papers": size,
        "vectors": "real" if real_vectors else "random",
        "dim": build["dim"],
        "build_s": {
            key: build[key]
            for key in (
                "generate_s",
                "embed_s",
                "random_vectors_s",
                "papers_s",
                "lexical_s",
                "tantivy_s",
                "vectors_s",
                "commit_s",
                "total_s",
            )
            if key in build
        },
        "serve_s": {
            key: serve[key]
            for key in ("model_load_s", "index_load_s", "index_reload_s", "words_open_s")
            if key in serve
        },
        "vector_index": {
            "kind": serve["index_kind"],
            "origin": serve["index_origin"],
            "reload_origin": serve.get("index_reload_origin"),
        },
        "disk": disk,
        "peak_rss_mb": {
            "build": build["peak_rss_mb"],
            "serve": serve["peak_rss_mb"],
            "bm25s": bm25["peak_rss_mb"],
            "floor": floor["peak_rss_mb"],
        },
        "query_embedding_ms": serve["query_embedding_ms"],
        "latency_ms": {
            **lat,
            "bm25s": bm25["latency_ms"],
            "numpy_floor": floor["latency_ms"],
        },
        "peers_s": {
            "bm25s_tokenize_s": bm25["tokenize_s"],
            "bm25s_index_s": bm25["index_s"],
            "floor_load_s": floor["load_s"],
        },
        "ratios": {
            "lexical_vs_bm25s": lat["lexical"]["p50"] / bm25["latency_ms"]["p50"],
            "fts5_vs_bm25s": lat["lexical_fts5"]["p50"] / bm25["latency_ms"]["p50"],
            "semantic_vs_floor": lat["semantic"]["p50"] / floor["latency_ms"]["p50"],
        },
        "semantic_recall_at_10": overlap(serve["top"]["semantic"], floor["top"]),
        "lexical_overlap_at_10_with_bm25s": overlap(serve["top"]["lexical"], bm25["top"]),
        "fts5_overlap_at_10_with_bm25s": overlap(serve["top"]["lexical_fts5"], bm25["top"]),
        "lexical_matches": serve["lexical_matches"],
    }
    result["reused_build"] = bool(args.workdir) and not args.workdir_fresh[size]
    if not args.workdir:
        for path in folder.glob("papers.db*"):
            path.unlink()
    return result


def evaluate_targets(sizes: dict[str, dict]) -> list[dict[str, Any]]:
    out = []
    for what, size, limit, unit in TARGETS:
        row = sizes.get(str(size))
        value: float | None = None
        if row is not None:
            value = (
                row["latency_ms"]["hybrid"]["p95"]
                if what == "hybrid p95"
                else row["peak_rss_mb"]["serve"]
            )
        out.append(
            {
                "target": f"{what} <= {limit:g} {unit} at {size:,} papers",
                "size": size,
                "value": value,
                "limit": limit,
                "unit": unit,
                "pass": None if value is None else value <= limit,
            }
        )
    return out


def print_report(report: dict[str, Any]) -> None:
    sizes = report["sizes"]
    names = list(sizes)
    width = 22

    def line(label: str, cells: Sequence[str]) -> None:
        print(f"{label:<40}" + "".join(f"{c:>{width}}" for c in cells))

    def each(fn: Callable[[dict], str]) -> list[str]:
        return [fn(sizes[s]) for s in names]

    def lat(row: dict, key: str) -> str:
        v = row["latency_ms"][key]
        return f"{v['p50']:.2f} / {v['p95']:.2f}"

    s = report["settings"]
    m = report["machine"]
    print(
        f"search speed: paperfeed on SQLite {m['sqlite']}, {m['cpus']} cores, "
        f"Python {m['python']}, BLAS threads {m['blas_threads']}, "
        f"load average {m['load_average_at_start']:.1f} at start, "
        f"{m['load_average_at_end']:.1f} at end"
    )
    print(
        f"{s['queries']} queries ({s['phrase_queries']} with a phrase), k={K} per engine, "
        f"search() limit {LIMIT}, exact_max {EXACT_MAX:,}, embedder {s['embedder']}"
    )
    for name in names:
        row = sizes[name]
        kind = (
            f"real {row['dim']}-dim vectors from the model"
            if row["vectors"] == "real"
            else f"RANDOM unit vectors ({row['dim']} dims), not model output"
        )
        print(f"  N={int(name):,}: {kind}")
    print()
    line("papers", [f"{int(n):,}" for n in names])
    print("build and load (s)")
    line("  generate synthetic papers", each(lambda r: f"{r['build_s']['generate_s']:.1f}"))
    line(
        "  embed papers (real model)",
        each(lambda r: f"{r['build_s']['embed_s']:.1f}" if "embed_s" in r["build_s"] else "-"),
    )
    line("  insert_papers", each(lambda r: f"{r['build_s']['papers_s']:.1f}"))
    line("  lexical.sync (FTS5)", each(lambda r: f"{r['build_s']['lexical_s']:.1f}"))
    line(
        "  tantivy word index build",
        each(lambda r: f"{r['build_s'].get('tantivy_s', float('nan')):.1f}"),
    )
    line("  store_vectors", each(lambda r: f"{r['build_s']['vectors_s']:.1f}"))
    line("  commits", each(lambda r: f"{r['build_s']['commit_s']:.1f}"))
    line(
        "  vector index load (kind)",
        each(lambda r: f"{r['serve_s']['index_load_s']:.1f} ({r['vector_index']['kind']})"),
    )
    line(
        "  vector index reload from cache",
        each(
            lambda r: (
                f"{r['serve_s']['index_reload_s']:.1f}" if "index_reload_s" in r["serve_s"] else "-"
            )
        ),
    )
    line(
        "  bm25s tokenize + index (peer)",
        each(lambda r: f"{r['peers_s']['bm25s_tokenize_s'] + r['peers_s']['bm25s_index_s']:.1f}"),
    )
    print("disk (MB)")
    line(
        "  SQLite file + -wal (-wal while writing)",
        each(lambda r: f"{r['disk']['db_wal_mb']:,.0f} ({r['disk']['wal_mb_while_open']:,.0f})"),
    )
    line(
        "  of which papers / FTS5 / vectors",
        each(
            lambda r: "{papers:,.0f} / {lexical:,.0f} / {vectors:,.0f}".format(
                **r["disk"]["parts_mb"]
            )
        ),
    )
    line("  HNSW cache", each(lambda r: f"{r['disk']['hnsw_cache_mb']:,.0f}"))
    line("  tantivy word index", each(lambda r: f"{r['disk'].get('tantivy_mb', 0):,.0f}"))
    print("peak RSS (MB)")
    for key, label in (
        ("serve", "  serve (model + indexes + queries)"),
        ("build", "  build"),
        ("bm25s", "  bm25s peer"),
        ("floor", "  NumPy floor"),
    ):
        line(label, each(lambda r, k=key: f"{r['peak_rss_mb'][k]:,.0f}"))
    print("query latency (ms, p50 / p95)")
    line(
        "  query embedding (model call, apart)",
        each(lambda r: "{p50:.2f} / {p95:.2f}".format(**r["query_embedding_ms"])),
    )
    for key, label in (
        ("lexical", "  lexical: tantivy WordIndex k=100"),
        ("lexical_fts5", "  lexical: FTS5 lexical.search k=100"),
        ("bm25s", "  lexical peer: bm25s k=100"),
        ("semantic", "  semantic: index().search k=100"),
        ("numpy_floor", "  semantic floor: NumPy brute force"),
        ("hybrid", "  hybrid: search() end to end"),
        ("search_lexical", "  search() mode=lexical"),
        ("search_semantic", "  search() mode=semantic"),
    ):
        line(label, each(lambda r, k=key: lat(r, k)))
    line("  ratio tantivy / bm25s (p50)", each(lambda r: f"{r['ratios']['lexical_vs_bm25s']:.1f}×"))
    line("  ratio FTS5 / bm25s (p50)", each(lambda r: f"{r['ratios']['fts5_vs_bm25s']:.1f}×"))
    line(
        "  ratio semantic / floor (p50)", each(lambda r: f"{r['ratios']['semantic_vs_floor']:.2f}×")
    )
    line("  semantic recall@10 vs floor", each(lambda r: f"{r['semantic_recall_at_10']:.3f}"))
    line(
        "  tantivy top-10 overlap with bm25s",
        each(lambda r: f"{r['lexical_overlap_at_10_with_bm25s']:.3f}"),
    )
    line(
        "  FTS5 top-10 overlap with bm25s",
        each(lambda r: f"{r['fts5_overlap_at_10_with_bm25s']:.3f}"),
    )
    print("hybrid, part by part (ms, p50 / p95)")
    for key, label in (
        ("part_lexical", "  tantivy k=100 (phrases held)"),
        ("part_vector", "  vector search k=100"),
        ("part_constrain", "  phrases on vector hits (tantivy)"),
        ("part_fusion", "  normalised_combination"),
        ("part_load", "  read_papers (20)"),
        ("parts_total", "  sum of the parts"),
    ):
        line(label, each(lambda r, k=key: lat(r, k)))
    print("FTS5 diagnosis")
    line(
        "  papers matched per query (median)",
        each(
            lambda r: (
                f"{r['lexical_matches']['median']:,.0f} "
                f"({100 * r['lexical_matches']['median_share']:.0f}%)"
            )
        ),
    )
    line(
        "  ... in the slowest tenth",
        each(lambda r: f"{r['lexical_matches']['slowest_tenth_median']:,.0f}"),
    )
    line(
        "  corr(matches, latency)",
        each(lambda r: f"{r['lexical_matches']['correlation_with_latency']:.2f}"),
    )
    line("  MATCH unranked LIMIT 100", each(lambda r: lat(r, "fts_unranked")))
    line("  MATCH count(*) (walk all postings)", each(lambda r: lat(r, "fts_count")))
    print()
    print("embedding throughput (real seed papers, chunks of 64)")
    for key, row in report["throughput"].items():
        print(
            f"  {key:<8} {row['name']:<20} {row['papers_per_s']:>10,.0f} papers/s"
            f"   ({row['docs']} papers, load {row['load_s']:.1f} s, "
            f"peak RSS {row['peak_rss_mb']:,.0f} MB)"
        )
    print()
    print("targets")
    for t in report["targets"]:
        if t["value"] is None:
            verdict, value = "not measured", "-"
        else:
            verdict = "PASS" if t["pass"] else "FAIL"
            value = f"{t['value']:,.1f} {t['unit']}"
        print(f"  {t['target']:<45} {value:>14}   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--real-vectors-max",
        type=int,
        default=10_000,
        help="Embed papers with the real model up to this corpus size; random vectors above.",
    )
    parser.add_argument(
        "--embedder", default="minilm", help="Embedder for papers and queries (minilm, static)."
    )
    parser.add_argument("--throughput-embedders", default="minilm,static")
    parser.add_argument("--throughput-docs", type=int, default=500)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="OPENBLAS_NUM_THREADS for the measured processes (default: as set, else all cores)",
    )
    parser.add_argument(
        "--workdir",
        help="Keep each size's corpus, word index and HNSW cache here and reuse them next run.",
    )
    parser.add_argument(
        "--timing-nice",
        type=int,
        default=0,
        help="nice increment for the timed loops (e.g. -10 as root on a shared machine)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--table-from", metavar="JSON", help="Print the table of a saved --json output and exit."
    )
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.blas_threads:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)  # inherited by the children
    if args.table_from:
        print_report(json.loads(Path(args.table_from).read_text()))
        return
    if args.child:
        role, config = args.child
        result = CHILDREN[role](json.loads(Path(config).read_text()))
        sys.stdout.write(json.dumps(result) + "\n")
        return

    real = seed_papers()
    queries = make_queries(real, args.queries)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_at_start": os.getloadavg()[0],
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default (all cores)"),
        },
        "settings": {
            "sizes": args.sizes,
            "queries": len(queries),
            "phrase_queries": sum('"' in q for q in queries),
            "k": K,
            "limit": LIMIT,
            "exact_max": EXACT_MAX,
            "embedder": args.embedder,
            "real_vectors_max": args.real_vectors_max,
            "workdir": args.workdir,
            "timing_nice": args.timing_nice,
        },
        "throughput": {},
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="pf-search-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        args.workdir_fresh = {
            size: not (work / f"n{size}" / "build.json").exists() for size in args.sizes
        }
        for key in [k for k in args.throughput_embedders.split(",") if k]:
            progress(f"embedding throughput: {key}")
            report["throughput"][key] = run_child(
                "throughput", {"embedder": key, "docs": args.throughput_docs}, work
            )
        for size in args.sizes:
            report["sizes"][str(size)] = measure_size(size, args, queries, work)
    report["machine"]["load_average_at_end"] = os.getloadavg()[0]
    report["targets"] = evaluate_targets(report["sizes"])
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_report(report)


if __name__ == "__main__":
    main()
