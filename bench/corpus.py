"""A realistic large corpus for the benchmarks: real papers first, then mixtures of them.

    python bench/corpus.py embed    --workdir DIR [--data DIR]     # real vectors, cached
    python bench/corpus.py validate --workdir DIR [--size 10000]   # synthetic vs real recall
    python bench/corpus.py estimate --workdir DIR                  # generation speed

Real part. The titles and abstracts of every real paper at hand, deduplicated by title:
the Hugging Face daily archive (``DATA/hf_daily_archive``, 9,877 ML papers), the seed
pages shipped in the package (``paperfeed/ingest/data/sample_papers.jsonl.gz``) and, as
bench input read from the data folder only (CC BY-NC, never copied), the SciFact corpus
(``DATA/scifact/corpus.jsonl``, 5,183 biomedical abstracts). Each is embedded once by
the real model (``paper_text`` through the project's MiniLM ONNX embedder) and the
vectors are kept under ``WORKDIR/real-<digest>.npz`` (the digest covers texts and model),
so reruns and every corpus size share them. Their order is shuffled once (fixed seed), so
any prefix mixes the sources.

Synthetic part (papers beyond the real ones). Paper ``i`` has a *parent* ``a`` (a real
paper), a second parent ``b`` among ``a``'s ``NEIGHBOURS`` nearest real papers and, one
time in three, a third parent ``c`` drawn from anywhere. Its vector is
``normalise(w_a v_a + w_b v_b + w_c v_c + sigma * g / sqrt(dim))`` with ``w_a`` in
[0.5, 0.8], ``w_c`` in [0, 0.15], ``g`` standard normal; ``sigma`` (``NOISE``) was
calibrated so that a synthetic 10 k corpus has the nearest-neighbour similarities of the
real 10 k (``validate`` prints both). Its title is a parent's title with a few words
from the other parent's; its abstract is sentences of the parents' abstracts in
proportion to their weights, so words and vectors tell the same story. All of it depends
only on ``(seed, i)``: any batch can be regenerated alone, in any order.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "paperfeed" / "ingest" / "data" / "sample_papers.jsonl.gz"

EMBED_CHUNK = 512  # texts embedded (and saved) per step: a killed run resumes from there
BLOCK = 1000  # synthetic papers drawn together (from one seeded generator)
NEIGHBOURS = 32  # the second parent is among the first parent's nearest real papers
NOISE = 0.35  # sigma of the Gaussian noise, relative to a unit vector (calibrated)
THIRD_PARENT = 1 / 3  # share of synthetic papers with a third, unrelated parent
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass(frozen=True, slots=True)
class RealPaper:
    title: str
    abstract: str
    source: str  # hf_daily, seed or scifact


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def real_papers(data: Path | None = None) -> list[RealPaper]:
    """Every real paper at hand, deduplicated by lower-cased title, shuffled (seed 2026).

    The HF archive and SciFact are read from ``data`` (default PAPERFEED_EXTERNAL_DATA_DIR)
    when present (the seed pages ship with the package); a missing source is skipped with
    a note on stderr.
    """
    if data is None:
        from data_paths import external_data_dir

        data = external_data_dir()
    found: list[RealPaper] = []
    archive = data / "hf_daily_archive" / "hf_daily_archive.jsonl.gz"
    if archive.exists():
        with gzip.open(archive, "rt", encoding="utf-8") as rows:
            for line in rows:
                paper = json.loads(line)["paper"]
                found.append(
                    RealPaper(_clean(paper["title"]), _clean(paper["summary"]), "hf_daily")
                )
    else:
        sys.stderr.write(f"[corpus] no {archive}: the HF archive is left out\n")
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            found.append(RealPaper(_clean(row["title"]), _clean(row["abstract"]), "seed"))
    scifact = data / "scifact" / "corpus.jsonl"
    if scifact.exists():
        with scifact.open(encoding="utf-8") as rows:
            for line in rows:
                row = json.loads(line)
                if row.get("title") and row.get("text"):
                    found.append(RealPaper(_clean(row["title"]), _clean(row["text"]), "scifact"))
    else:
        sys.stderr.write(f"[corpus] no {scifact}: SciFact is left out\n")
    seen: set[str] = set()
    unique = []
    for paper in found:
        key = paper.title.lower()
        if paper.title and paper.abstract and key not in seen:
            seen.add(key)
            unique.append(paper)
    order = np.random.default_rng(2026).permutation(len(unique))
    return [unique[i] for i in order]


def _digest(texts: Sequence[str], model: str) -> str:
    h = hashlib.sha256(model.encode())
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def real_vectors(
    papers: Sequence[RealPaper], cache: Path, embedder: str = "minilm"
) -> tuple[np.ndarray, str]:
    """(vectors of ``papers`` by the real model, its name), cached under ``cache``.

    The texts are embedded EMBED_CHUNK at a time (chunks start at multiples of EMBED_CHUNK
    of the shuffled order), each chunk saved as ``<digest of its texts and model>.npy``
    as it ends: a killed run loses one chunk at most, and a smaller corpus (a prefix)
    reuses the chunks a larger one embedded.
    """
    from paperfeed.index.embedders.embedder import load_embedder, paper_text

    model = load_embedder(embedder)
    texts = [paper_text(p.title, p.abstract) for p in papers]
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    started = time.perf_counter()
    done_now = 0
    for start in range(0, len(texts), EMBED_CHUNK):
        chunk = texts[start : start + EMBED_CHUNK]
        path = cache / f"{_digest(chunk, model.name)}.npy"
        if path.exists():
            parts.append(np.load(path))
            continue
        matrix = model.embed(chunk)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, matrix)
        tmp.replace(path)
        parts.append(matrix)
        done_now += len(matrix)
        rate = done_now / (time.perf_counter() - started)
        sys.stderr.write(
            f"[corpus {time.strftime('%H:%M:%S')}] embedded {start + len(matrix):,} / "
            f"{len(texts):,} real papers ({rate:.1f}/s)\n"
        )
    dim = model.dim
    vectors = np.concatenate(parts) if parts else np.empty((0, dim), dtype=np.float32)
    return vectors.astype(np.float32, copy=False), model.name


def nearest_real(vectors: np.ndarray, count: int, *, chunk: int = 2048) -> np.ndarray:
    """For each row, the indices of its ``count`` most similar other rows (any order)."""
    n = len(vectors)
    count = min(count, n - 1)
    out = np.empty((n, count), dtype=np.int32)
    for start in range(0, n, chunk):
        sims = vectors[start : start + chunk] @ vectors.T
        rows = np.arange(len(sims))
        sims[rows, rows + start] = -np.inf
        out[start : start + chunk] = np.argpartition(-sims, count - 1, axis=1)[:, :count]
    return out


def _split_sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text) if s] or [text]


class Synthesizer:
    """Real papers ``0 .. n_real - 1`` as they are, then mixtures of them (module docstring).

    ``parents`` (default: all) restricts which real papers synthetic ones are made from
    (``validate`` keeps its held-out queries out of them).
    """

    def __init__(
        self,
        papers: Sequence[RealPaper],
        vectors: np.ndarray,
        *,
        seed: int = 7,
        noise: float = NOISE,
        parents: int | None = None,
    ) -> None:
        self.papers = list(papers)
        self.vectors = vectors
        self.n_real = len(self.papers)
        self.parents = self.n_real if parents is None else parents
        self.seed = seed
        self.noise = noise
        self.neighbours = nearest_real(vectors[: self.parents], NEIGHBOURS)
        self.sentences = [_split_sentences(p.abstract) for p in self.papers[: self.parents]]
        self.title_words = [p.title.split() for p in self.papers[: self.parents]]

    def batch(self, start: int, count: int) -> tuple[list[str], list[str], np.ndarray]:
        """(titles, abstracts, unit vectors) of papers ``start .. start + count - 1``."""
        titles: list[str] = []
        abstracts: list[str] = []
        real_end = min(start + count, self.n_real)
        if start < real_end:
            for p in self.papers[start:real_end]:
                titles.append(p.title)
                abstracts.append(p.abstract)
        parts = [self.vectors[start:real_end]] if start < real_end else []
        first = max(start, self.n_real)
        for block in (
            range(first // BLOCK, (start + count - 1) // BLOCK + 1) if first < start + count else ()
        ):
            lo, hi = max(first, block * BLOCK), min(start + count, (block + 1) * BLOCK)
            t, a, v = self._block(block)
            offset = block * BLOCK
            titles.extend(t[lo - offset : hi - offset])
            abstracts.extend(a[lo - offset : hi - offset])
            parts.append(v[lo - offset : hi - offset])
        dim = self.vectors.shape[1]
        matrix = np.concatenate(parts) if parts else np.empty((0, dim), dtype=np.float32)
        return titles, abstracts, matrix

    def vectors_only(self, start: int, count: int) -> np.ndarray:
        """The vectors of :meth:`batch` without its texts (the same draws, much faster)."""
        parts = [self.vectors[start : min(start + count, self.n_real)]]
        first = max(start, self.n_real)
        for block in range(first // BLOCK, (start + count - 1) // BLOCK + 1):
            if first >= start + count:
                break
            lo, hi = max(first, block * BLOCK), min(start + count, (block + 1) * BLOCK)
            rng = np.random.default_rng([self.seed, block])
            vectors = self.synthetic_vectors(rng, BLOCK)[0]
            parts.append(vectors[lo - block * BLOCK : hi - block * BLOCK])
        return np.concatenate(parts)

    def synthetic_vectors(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        """(vectors, first parents, second parents, third parents or -1, weights (count, 3))."""
        a = rng.integers(0, self.parents, count)
        b = self.neighbours[a, rng.integers(0, self.neighbours.shape[1], count)]
        third = rng.random(count) < THIRD_PARENT
        c = np.where(third, rng.integers(0, self.parents, count), -1)
        w_a = rng.uniform(0.5, 0.8, count)
        w_c = np.where(third, rng.uniform(0.0, 0.15, count), 0.0)
        w_b = 1.0 - w_a - w_c
        dim = self.vectors.shape[1]
        mixed = w_a[:, None] * self.vectors[a] + w_b[:, None] * self.vectors[b]
        mixed += w_c[:, None] * self.vectors[np.maximum(c, 0)]
        mixed += (self.noise / np.sqrt(dim)) * rng.standard_normal((count, dim)).astype(np.float32)
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        weights = np.stack([w_a, w_b, w_c], axis=1)
        return mixed.astype(np.float32), a, b, c, weights

    def _block(self, block: int) -> tuple[list[str], list[str], np.ndarray]:
        rng = np.random.default_rng([self.seed, block])
        vectors, a, b, c, weights = self.synthetic_vectors(rng, BLOCK)
        pick = random.Random(self.seed * 1_000_003 + block)
        titles, abstracts = [], []
        for j in range(BLOCK):
            first, second = self.title_words[a[j]], self.title_words[b[j]]
            cut = pick.randint(min(3, len(first)), len(first))
            tail = second[pick.randint(0, max(len(second) - 2, 0)) :][: max(2, len(first) - cut)]
            titles.append(" ".join(first[:cut] + ([] if cut == len(first) else tail)))
            sources = [a[j], b[j]] + ([c[j]] if c[j] >= 0 else [])
            own = self.sentences[a[j]]
            chosen = []
            for slot in range(len(own)):
                parent = pick.choices(sources, weights[j, : len(sources)])[0]
                theirs = self.sentences[parent]
                chosen.append(theirs[min(len(theirs) - 1, slot * len(theirs) // len(own))])
            abstracts.append(" ".join(chosen))
        return titles, abstracts, vectors


def _exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, similarities) of each query's k nearest rows, best first."""
    sims = queries @ matrix.T
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    return best, np.take_along_axis(sims, best, axis=1)


def profile(matrix: np.ndarray, queries: dict[str, np.ndarray], seed: int = 3) -> dict[str, float]:
    """Neighbourhood shape: median similarity of the 1st and 10th nearest neighbour of
    500 of the corpus's own papers (itself left out) and of each query set, and the
    mean similarity of two random papers."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(matrix), min(500, len(matrix)), replace=False)
    _, sims = _exact_top(matrix, matrix[sample], 11)
    out = {
        "paper_nn1": float(np.median(sims[:, 1])),
        "paper_nn10": float(np.median(sims[:, 10])),
        "random_pair": float(np.mean(np.sum(matrix[sample] * matrix[rng.permutation(sample)], 1))),
    }
    for name, q in queries.items():
        _, sims = _exact_top(matrix, q, 10)
        out[f"{name}_nn1"] = float(np.median(sims[:, 0]))
        out[f"{name}_nn10"] = float(np.median(sims[:, 9]))
    return out


def _recall(found: Sequence[set[int]], truth: np.ndarray) -> float:
    return float(
        np.mean([len(f & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)])
    )


def hnsw_recall(
    matrix: np.ndarray, queries: dict[str, np.ndarray], efs: Sequence[int], m: int, ef_add: int
) -> dict[str, dict[int, float]]:
    """recall@10 of a bare HNSW graph (M=m, efConstruction=ef_add, asked for 10) against
    exact search, per query set and search expansion ``ef``: sensitive settings, where
    the corpus's structure shows."""
    from paperfeed.index.vectors.hnsw import Graph, HnswParams

    ids = np.arange(len(matrix), dtype=np.int64)
    graph = Graph.build(matrix.shape[1], ids, matrix, HnswParams(m, ef_add, max(efs)))
    out: dict[str, dict[int, float]] = {}
    for name, q in queries.items():
        truth, _ = _exact_top(matrix, q, 10)
        out[name] = {}
        for ef in efs:
            graph._index.expansion_search = ef  # one graph, several search widths
            found = [set(graph.search(v, 10).tolist()) for v in q]
            out[name][ef] = _recall(found, truth)
    return out


def product_recall(matrix: np.ndarray, queries: dict[str, np.ndarray]) -> dict[str, float]:
    """recall@10 of the product's index as search uses it (default graph, k=100 re-scored)."""
    from paperfeed.index.vectors.in_memory import VectorIndex

    index = VectorIndex.from_matrix("bench", np.arange(len(matrix)), matrix, exact_max=0)
    out = {}
    for name, q in queries.items():
        truth, _ = _exact_top(matrix, q, 10)
        found = [{pid for pid, _ in index.search(v, 100)[:10]} for v in q]
        out[name] = _recall(found, truth)
    return out


def validate(args: argparse.Namespace) -> dict[str, object]:
    """Real 10 k against synthetic 10 k (and random 10 k): neighbourhoods and HNSW recall."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from paperfeed.index.embedders.embedder import load_embedder, query_text
    from paperfeed.index.query import parse_query
    from search_speed_inputs import make_queries, seed_papers

    papers = real_papers(args.data)
    vectors, _ = real_vectors(papers, args.workdir, args.embedder)
    n, held = args.size, args.held
    parents = len(papers) - held
    if parents < n:
        raise SystemExit(f"--size {n} needs {n + held} real papers; there are {len(papers)}")
    texts = [parse_query(q).semantic_text for q in make_queries(seed_papers(), args.queries)]
    model = load_embedder(args.embedder)
    queries = {
        "text_query": model.embed([query_text(t) for t in texts]),
        "held_out_paper": vectors[parents:],
    }
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((n, vectors.shape[1])).astype(np.float32)
    corpora = {
        "real": vectors[:n],
        "random": noise / np.linalg.norm(noise, axis=1, keepdims=True),
    }
    for sigma in args.noise:
        synth = Synthesizer(papers[:parents], vectors[:parents], noise=sigma)
        corpora[f"synthetic sigma={sigma:g}"] = synth.batch(parents, n)[2]
    report: dict[str, object] = {"size": n, "held_out": held, "text_queries": len(texts)}
    for name, matrix in corpora.items():
        row: dict[str, object] = {"profile": profile(matrix, queries)}
        if not args.profile_only:
            row["hnsw_m8"] = hnsw_recall(matrix, queries, (10, 16, 32, 64), 8, 32)
            row["product"] = product_recall(matrix, queries)
        report[name] = row
        sys.stderr.write(f"[corpus] {name}: {json.dumps(row)}\n")
    return report


def estimate(args: argparse.Namespace) -> dict[str, object]:
    """Seconds to synthesize 20 k papers (texts and vectors), and that rate at 1 M."""
    papers = real_papers(args.data)
    vectors, _ = real_vectors(papers, args.workdir, args.embedder)
    started = time.perf_counter()
    synth = Synthesizer(papers, vectors)
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    synth.batch(len(papers), 20_000)
    seconds = time.perf_counter() - started
    return {"setup_s": setup_s, "per_20k_s": seconds, "per_1m_s": seconds * 50}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("action", choices=("embed", "validate", "estimate"))
    parser.add_argument("--workdir", type=Path, required=True, help="the real vectors' cache")
    parser.add_argument(
        "--data", type=Path, default=None, help="default: PAPERFEED_EXTERNAL_DATA_DIR"
    )
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--held", type=int, default=300, help="real papers kept as queries")
    parser.add_argument("--queries", type=int, default=200, help="text queries")
    parser.add_argument(
        "--noise",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[NOISE],
        help="sigma values to compare (validate)",
    )
    parser.add_argument("--profile-only", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.action == "validate":
        print(json.dumps(validate(args), indent=1))
        return
    if args.action == "estimate":
        print(json.dumps(estimate(args)))
        return
    papers = real_papers(args.data)
    counts: dict[str, int] = {}
    for p in papers:
        counts[p.source] = counts.get(p.source, 0) + 1
    sys.stderr.write(f"[corpus] {len(papers):,} real papers: {counts}\n")
    vectors, name = real_vectors(papers, args.workdir, args.embedder)
    print(
        json.dumps(
            {"papers": len(papers), "sources": counts, "model": name, "dim": vectors.shape[1]}
        )
    )


if __name__ == "__main__":
    main()
