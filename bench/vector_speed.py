"""Vector search speed, recall and memory: VectorIndex exact and HNSW against a NumPy floor.

    python bench/vector_speed.py [--sizes 10000,100000,1000000] [--queries 200] [--json]
                                 [--hnsw M,EF_ADD,EF_SEARCH,DTYPE] [--blas-threads 1]

For each size N (dim 384), each method runs in a fresh subprocess, so that its
peak RSS is its own:

- ``numpy floor``: ``matrix @ q`` and ``np.argpartition``, nothing else; it is
  also the ground truth for recall;
- ``VectorIndex exact``: ``VectorIndex.from_matrix(..., exact_max=N)``;
- ``VectorIndex hnsw``: the same with ``exact_max=0`` (graph built, no cache).

The vectors are *structured*: unit-length mixtures of two of 500 fixed random
directions plus Gaussian noise, so that neighbourhoods exist as they do for real
embeddings (on uniformly random vectors every ANN index collapses; don't judge
recall on them). Queries are fresh draws from the same distribution; recall@10
is the share of the exact top 10 found, averaged over queries.

``--vectors realistic --real-cache DIR`` uses bench/corpus.py's corpus instead: the first N
papers of its realistic corpus (real papers with the model's vectors, then mixtures of
them), and as queries ``--queries`` search queries of bench/search_speed.py embedded by
the model (what users send). ``--k 100`` asks for 100 as search() does (recall still @10).

Columns: build time (graph or copy), query latency p50/p95 on one thread, recall@10,
peak RSS of the process (it includes the generator's own copy of the matrix, as
``from_matrix`` copies), and the RSS once that copy is dropped, which is what a
server holding the index keeps (``VectorIndex.load`` streams from the database
and never holds the second copy).

The matrix-vector product is memory-bound: on 2 cores one BLAS thread is about as
fast as two, and much steadier when another process holds a core (a second BLAS
thread then waits for a scheduler tick: 4 ms steps). ``--blas-threads 1`` shows it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from memory import peak_rss_mb, rss_mb  # noqa: E402
from paperfeed.index.vectors.hnsw import DEFAULT_PARAMS, HnswParams  # noqa: E402
from paperfeed.index.vectors.in_memory import VectorIndex  # noqa: E402

DIM = 384
CENTRES = 500
NOISE = 0.5
K = 10
METHODS = ("numpy floor", "VectorIndex exact", "VectorIndex hnsw")


def structured(n: int, *, seed: int, dim: int = DIM, chunk: int = 65_536) -> np.ndarray:
    """n unit vectors near mixtures of two of CENTRES fixed directions (generated in chunks)."""
    centres = np.random.default_rng(12345).standard_normal((CENTRES, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        a, b = rng.integers(0, CENTRES, m), rng.integers(0, CENTRES, m)
        x = centres[a] + centres[b] * rng.uniform(0, 0.5, (m, 1)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x += rng.standard_normal((m, dim), dtype=np.float32) * np.float32(NOISE / np.sqrt(dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start : start + m] = x
    return out


def floor_search(matrix: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ q
    top = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
    return top[np.argsort(-scores[top])]


def realistic(n: int, queries: int, cache: Path, embedder: str) -> tuple[np.ndarray, np.ndarray]:
    """bench/corpus.py's first n vectors, and search queries embedded by the model."""
    sys.path.insert(0, str(ROOT / "bench"))
    from corpus import Synthesizer, real_papers, real_vectors
    from paperfeed.index.embedders.embedder import load_embedder, query_text
    from paperfeed.index.query import parse_query
    from search_speed_inputs import make_queries, seed_papers

    papers = real_papers()
    vectors, _ = real_vectors(papers, cache, embedder)
    matrix = Synthesizer(papers, vectors).vectors_only(0, n)
    texts = [parse_query(q).semantic_text for q in make_queries(seed_papers(), queries)]
    return matrix, load_embedder(embedder).embed([query_text(t) for t in texts])


def child(
    method: str, n: int, queries: int, params: HnswParams, args: argparse.Namespace
) -> dict[str, object]:
    """Run one method at one size; return its row."""
    if args.vectors == "realistic":
        matrix, qs = realistic(n, queries, Path(args.real_cache), args.embedder)
    else:
        matrix, qs = structured(n, seed=1), structured(queries, seed=2)
    k = args.k
    truth = [set(floor_search(matrix, q, K).tolist()) for q in qs]
    ids = np.arange(n, dtype=np.int64)
    started = time.perf_counter()
    if method == "numpy floor":
        index = None
    else:
        exact_max = n if method == "VectorIndex exact" else 0
        index = VectorIndex.from_matrix("bench", ids, matrix, exact_max=exact_max, params=params)
        del matrix  # the index holds its own copy
    build = time.perf_counter() - started
    steady = rss_mb()

    def run(q: np.ndarray) -> list[int]:
        if index is None:
            return [int(i) for i in floor_search(matrix, q, k)][:K]
        return [pid for pid, _ in index.search(q, k)][:K]

    for q in qs[: min(20, queries)]:  # warm-up
        run(q)
    times: list[float] = []
    found = 0
    for q, true in zip(qs, truth, strict=True):
        t0 = time.perf_counter()
        got = run(q)
        times.append(time.perf_counter() - t0)
        found += len(true & set(got))
    ms = np.array(times) * 1000
    return {
        "method": method,
        "n": n,
        "build_s": round(build, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "recall_at_10": round(found / (K * queries), 4),
        "peak_rss_mb": round(peak_rss_mb()),
        "index_rss_mb": round(steady),
    }


def parse_params(text: str | None) -> HnswParams:
    if not text:
        return DEFAULT_PARAMS
    m, ef_add, ef_search, dtype = text.split(",")
    return HnswParams(int(m), int(ef_add), int(ef_search), dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--hnsw", help="M,EF_ADD,EF_SEARCH,DTYPE (default: the library's)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="OPENBLAS_NUM_THREADS for the measured processes (default: OpenBLAS's own, all cores)",
    )
    parser.add_argument("--vectors", choices=("structured", "realistic"), default="structured")
    parser.add_argument("--real-cache", help="bench/corpus.py's real vectors (--vectors realistic)")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--k", type=int, default=K, help="neighbours asked for (recall is @10)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    params = parse_params(args.hnsw)

    if args.child:
        row = child(args.child[0], int(args.child[1]), args.queries, params, args)
        sys.stdout.write(json.dumps(row) + "\n")
        return

    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        for method in args.methods.split(","):
            command = [sys.executable, __file__, "--child", method, str(n)]
            command += ["--queries", str(args.queries), "--k", str(args.k)]
            command += ["--vectors", args.vectors, "--embedder", args.embedder]
            if args.real_cache:
                command += ["--real-cache", args.real_cache]
            if args.hnsw:
                command += ["--hnsw", args.hnsw]
            env = dict(os.environ)
            if args.blas_threads:
                env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
            out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if not args.json:
                print_row(results[-1], header=len(results) == 1)
    if args.json:
        report = {
            "dim": DIM,
            "recall_at": K,
            "queries": args.queries,
            "vectors": args.vectors,
            "k": args.k,
            "blas_threads": args.blas_threads,
            "hnsw": vars_of(params),
        }
        sys.stdout.write(json.dumps({**report, "results": results}, indent=2) + "\n")


def vars_of(params: HnswParams) -> dict[str, object]:
    return {
        "connectivity": params.connectivity,
        "expansion_add": params.expansion_add,
        "expansion_search": params.expansion_search,
        "dtype": params.dtype,
    }


def print_row(row: dict[str, object], *, header: bool) -> None:
    if header:
        sys.stdout.write(
            f"{'method':<20}{'N':>9}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'recall@10':>11}{'peak MB':>9}{'held MB':>9}\n"
        )
    sys.stdout.write(
        f"{row['method']!s:<20}{row['n']!s:>9}{row['build_s']!s:>9}{row['p50_ms']!s:>9}"
        f"{row['p95_ms']!s:>9}{row['recall_at_10']!s:>11}{row['peak_rss_mb']!s:>9}"
        f"{row['index_rss_mb']!s:>9}\n"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
