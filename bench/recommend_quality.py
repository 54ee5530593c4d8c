"""Recommendation quality: paperfeed's member model beside three baselines, two protocols.

    python bench/recommend_quality.py [--json] [--quick] [--reps N] [--embedder minilm] [--timing]
                                      [--validation]

Methods, each ranking the whole corpus for one simulated or real member (liked papers left
out), scored by recall@20 and nDCG@20 over the held-out papers:

* ``paperfeed``: the member model of ``rank/recommend/decisions.py`` (logistic regression over the
  embeddings and the tf-idf view, sampled negatives, re-ranked by the nearest liked papers);
* ``tfidf_svm``: arxiv-sanity-lite's recipe (tf-idf over title + abstract with its
  vectorizer settings, LinearSVC C = 0.01, balanced classes, every other paper a negative);
* ``centroid``: cosine similarity to the centroid of the liked papers' embeddings;
* ``popularity``: the same order for everyone (protocol 1: how many seed pages list the
  paper; protocol 2: how many readers have it in their training items).

Protocols:

1. ``topic_pages``: the seed pages (DATA/seed_pages.jsonl, 660 papers) are five
   topical result lists. A simulated member likes k papers (k = 1, 3, 10) drawn from one
   page's top 30; the rest of that top 30 is held out. ``--reps`` draws per page and k.
   Reported per k and as the mean over k (``topic_pages``).
2. ``citeulike``: DATA/citeulike_subset, 50 real readers' libraries: train on each
   reader's 10 training items, rank all 1,929 papers, score the held-out items.

DATA is PAPERFEED_EXTERNAL_DATA_DIR (default ../shared/data): evaluation data that does not
ship with paperfeed; the script stops, saying where it looked, when it is missing.

``--validation`` runs the same methods on splits that never touch the evaluation's held-out
papers, for choosing the model's knobs (``ModelParams``): topic members drawn from each
page's later windows of 30 (ranks 31-60, 61-90, ... up to 150, where the page is that
long; a different random seed; papers in any page's top 30 left out), and each CiteULike
reader's 10 training items split 7 / 3 (five draws per reader; their held-out items stay in
the corpus as ordinary papers, never liked or scored).

Beside the table, the text output gives each baseline's paired difference from paperfeed
(paperfeed minus baseline, per draw, mean ± standard error over the draws) and on how many
groups (seed pages, or readers) paperfeed's mean is ahead: the cells' draw-to-draw spread.
``--json`` prints the table alone.

Embeddings come from the real embedder (MiniLM by default), cached under
``bench/out/recommend_cache`` (the first run embeds 2,589 abstracts: a few minutes on two
cores). ``--quick`` is the smoke test's size: the static embedder, two pages, one draw,
ten readers. ``--timing`` adds the training-and-scoring time of a member with 500
positives over 100,000 synthetic papers (384-dim embeddings, a 20,000-term tf-idf view).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# src/ for paperfeed, and this folder for data_paths when the module is imported by a test.
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

from scipy import sparse  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from data_paths import external  # noqa: E402
from paperfeed.index.embedders.embedder import load_embedder, paper_text  # noqa: E402
from paperfeed.index.recommend.features import Features, build_features  # noqa: E402
from paperfeed.index.recommend.term_view import vectorizer  # noqa: E402
from paperfeed.rank.recommend.decisions import fit, ranked  # noqa: E402
from paperfeed.rank.recommend.model import scores, train  # noqa: E402

CACHE = ROOT / "bench" / "out" / "recommend_cache"
K = 20
METHODS = ("paperfeed", "tfidf_svm", "centroid", "popularity")
TOP = 30

Ranker = Callable[[list[int]], np.ndarray]
#: One draw: the liked papers, the held-out ones, and its group (seed page or reader).
Draw = tuple[list[int], set[int], str]
#: Per protocol, per method, the (draws, 2) recall@20 / nDCG@20 of each draw, and the groups.
PerDraw = dict[str, tuple[dict[str, np.ndarray], list[str]]]


def embed(name: str, texts: list[str], embedder: str) -> np.ndarray:
    model = load_embedder(embedder)
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{model.name}-{digest}.npy"
    if path.exists():
        return np.load(path)
    matrix = model.embed(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, matrix)
    return matrix


def seed_pages() -> Path:
    """The raw seed pages (every page's full ranking, outside the repository)."""
    return external("seed_pages.jsonl", "The seed pages")


def citeulike_subset() -> Path:
    """The CiteULike subset (no licence: evaluation only, outside the repository)."""
    return external("citeulike_subset", "The CiteULike subset")


def seed_corpus() -> tuple[list[str], dict[str, list[int]]]:
    """Unique papers (first occurrence order) and each page's papers in rank order."""
    abstracts: dict[str, str] = {}
    pages: dict[str, list[tuple[int, str]]] = {}
    for line in seed_pages().read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        abstracts.setdefault(row["title"], row["abstract"])
        pages.setdefault(row["page"], []).append((row["rank"], row["title"]))
    index = {title: i for i, title in enumerate(abstracts)}
    texts = [paper_text(t, a) for t, a in abstracts.items()]
    return texts, {p: [index[t] for _, t in sorted(rows)] for p, rows in sorted(pages.items())}


def citeulike_corpus() -> tuple[list[str], list[list[int]], list[list[int]]]:
    folder = citeulike_subset()
    with (folder / "raw-data.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [paper_text(r["raw.title"], r["raw.abstract"]) for r in rows]

    def users(name: str) -> list[list[int]]:
        lines = (folder / name).read_text().splitlines()
        return [[int(x) for x in line.split()[1:]] for line in lines]

    return texts, users("cf-train-10-users.dat"), users("cf-test-10-users.dat")


def metrics(order: Sequence[int], held: set[int]) -> tuple[float, float]:
    hits = [1.0 if pid in held else 0.0 for pid in order[:K]]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    idcg = sum(1 / math.log2(i + 2) for i in range(min(K, len(held))))
    return sum(hits) / len(held), dcg / idcg


def top_order(values: np.ndarray, liked: list[int]) -> list[int]:
    values = np.array(values, dtype=np.float64)
    values[liked] = -np.inf
    return [int(i) for i in np.argsort(-values, kind="stable")[:K]]


class Methods:
    """The four rankers over one corpus (row i is paper i)."""

    def __init__(self, texts: list[str], dense: np.ndarray, popularity: np.ndarray) -> None:
        ids = np.arange(len(texts), dtype=np.int64)
        self.features: Features = build_features(ids, dense, texts)
        # arxiv-sanity-lite's features are the same vectorizer, fitted on the same texts.
        self.sanity = vectorizer(len(texts)).fit_transform(texts)
        self.popularity = popularity

    def paperfeed(self, liked: list[int]) -> list[int]:
        model = fit(self.features, dict.fromkeys(liked, 1.0), (), seed=len(liked))
        assert model is not None
        return [pid for pid, _ in ranked(model, self.features, skip=set(liked), limit=K)]

    def tfidf_svm(self, liked: list[int]) -> list[int]:
        y = np.zeros(self.sanity.shape[0])
        y[liked] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
        clf.fit(self.sanity, y)
        return top_order(clf.decision_function(self.sanity), liked)

    def centroid(self, liked: list[int]) -> list[int]:
        dense = self.features.dense
        return top_order(dense @ dense[liked].mean(axis=0), liked)

    def popular(self, liked: list[int]) -> list[int]:
        return top_order(self.popularity, liked)

    def run(
        self, draws: Sequence[Draw]
    ) -> tuple[dict[str, dict[str, float]], tuple[dict[str, np.ndarray], list[str]]]:
        """The cell's means, and every draw's metrics (for the spread)."""
        rankers = {
            "paperfeed": self.paperfeed,
            "tfidf_svm": self.tfidf_svm,
            "centroid": self.centroid,
            "popularity": self.popular,
        }
        out: dict[str, dict[str, float]] = {}
        each: dict[str, np.ndarray] = {}
        for name, rank in rankers.items():
            got = np.array([metrics(rank(liked), held) for liked, held, _ in draws])
            each[name] = got
            out[name] = {
                "recall@20": round(float(got[:, 0].mean()), 4),
                "ndcg@20": round(float(got[:, 1].mean()), 4),
            }
        return out, (each, [group for _, _, group in draws])


def order_popularity(counts: np.ndarray) -> np.ndarray:
    """Counts with ties broken by corpus order (earlier first), deterministically."""
    return counts.astype(np.float64) - np.arange(len(counts)) * 1e-9


#: Protocol 1's validation windows: ranks 31-60, 61-90, ... (never the evaluated top 30).
VALIDATION_WINDOWS = range(TOP, 150, TOP)


def topic_pages(
    embedder: str, reps: int, pages_used: int, per_draw: PerDraw, validation: bool = False
) -> dict[str, dict[str, dict[str, float]]]:
    texts, pages = seed_corpus()
    counts = np.zeros(len(texts))
    for members in pages.values():
        counts[members] += 1
    methods = Methods(texts, embed("seed", texts, embedder), order_popularity(counts))
    rng = np.random.default_rng(4242 if validation else 20261201)
    windows = VALIDATION_WINDOWS if validation else range(0, 1)
    # Validation leaves out every paper the evaluation holds out (37 papers are on two or
    # more pages: one page's top 30 can be in another's later window).
    evaluated = {p for members in pages.values() for p in members[:TOP]} if validation else set()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for k in (1, 3, 10):
        draws: list[Draw] = []
        for page in list(pages)[:pages_used]:
            for start in windows:
                window = pages[page][start : start + TOP]
                top = [p for p in window if p not in evaluated]
                if len(window) < TOP or len(top) <= k:
                    continue
                for _ in range(reps):
                    liked = [int(x) for x in rng.choice(top, size=k, replace=False)]
                    draws.append((liked, set(top) - set(liked), page))
        cell = f"topic_pages_k{k}"
        results[cell], per_draw[cell] = methods.run(draws)
    results["topic_pages"] = {
        m: {
            metric: round(
                float(np.mean([results[f"topic_pages_k{k}"][m][metric] for k in (1, 3, 10)])), 4
            )
            for metric in ("recall@20", "ndcg@20")
        }
        for m in METHODS
    }
    return results


def inner_split(
    pairs: Sequence[tuple[list[int], list[int]]], draws: int = 5, keep: int = 7
) -> list[tuple[list[int], list[int]]]:
    """Validation for protocol 2: each reader's training items split ``keep`` / the rest,
    ``draws`` times; the evaluation's held-out items are not used."""
    rng = np.random.default_rng(4343)
    out = []
    for train_items, _ in pairs:
        for _ in range(draws):
            order = [int(x) for x in rng.permutation(train_items)]
            out.append((order[:keep], order[keep:]))
    return out


def citeulike(
    embedder: str, readers: int, per_draw: PerDraw, validation: bool = False
) -> dict[str, dict[str, float]]:
    texts, train_items, test_items = citeulike_corpus()
    pairs = [(a, b) for a, b in zip(train_items, test_items, strict=True) if b][:readers]
    who = [str(i) for i in range(len(pairs))]
    if readers < len(train_items):  # --quick: only the chosen readers' papers
        keep = sorted({i for a, b in pairs for i in a + b})
        remap = {old: new for new, old in enumerate(keep)}
        texts = [texts[i] for i in keep]
        pairs = [([remap[i] for i in a], [remap[i] for i in b]) for a, b in pairs]
    if validation:
        pairs = inner_split(pairs)
        who = [r for r in who for _ in range(len(pairs) // len(who))]
    counts = np.zeros(len(texts))
    for a, _ in pairs:
        counts[a] += 1
    methods = Methods(texts, embed("citeulike", texts, embedder), order_popularity(counts))
    results, per_draw["citeulike"] = methods.run(
        [(list(a), set(b), r) for (a, b), r in zip(pairs, who, strict=True)]
    )
    return results


def synthetic_terms(
    n: int, rng: np.random.Generator, vocabulary: int = 20_000, per_row: int = 80
) -> sparse.csr_matrix:
    """l2-normalised rows of ~``per_row`` random terms each, built row-wise (scipy's
    ``sparse.random`` draws among all n x vocabulary cells: 16 GB at 100 k papers)."""
    indices = np.sort(rng.integers(0, vocabulary, size=(n, per_row)), axis=1).ravel()
    indptr = np.arange(0, n * per_row + 1, per_row)
    data = rng.random(n * per_row) + 0.1
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(n, vocabulary))
    matrix.sum_duplicates()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    # float32, as build_features keeps them.
    out: sparse.csr_matrix = sparse.csr_matrix(sparse.diags(1 / norms) @ matrix, dtype=np.float32)
    out.sum_duplicates()  # canonical rows, as build_features keeps them
    return out


def timing(
    positives: int = 500, n: int = 100_000, dim: int = 384, runs: int = 5
) -> dict[str, float]:
    """Seconds to train a member's model and score every paper, on synthetic features."""
    rng = np.random.default_rng(1)
    dense = rng.standard_normal((n, dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    features = Features(np.arange(n, dtype=np.int64), dense, synthetic_terms(n, rng), ())
    pos = np.sort(rng.choice(n, size=positives, replace=False)).astype(np.int64)
    took = []
    for run in range(runs):
        start = time.perf_counter()
        model = train(features, pos, np.ones(positives), np.empty(0, dtype=np.int64), seed=run)
        scores(model, features)
        took.append(time.perf_counter() - start)
    return {
        "positives": positives,
        "papers": n,
        "median_ms": round(1000 * float(np.median(took)), 1),
    }


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| protocol | method | recall@20 | nDCG@20 |", "|---|---|---|---|"]
    for protocol, methods in results.items():
        if protocol == "timing":
            continue
        for method, values in methods.items():
            lines.append(
                f"| {protocol} | {method} | {values['recall@20']:.3f} | {values['ndcg@20']:.3f} |"
            )
    return "\n".join(lines)


def spread(per_draw: PerDraw) -> str:
    """Each baseline's paired difference from paperfeed per cell: mean ± standard error over
    the draws, and the groups (pages, readers) where paperfeed's mean is ahead."""
    lines = [
        "| protocol | paperfeed minus | recall@20 | nDCG@20 | groups ahead (recall / nDCG) |",
        "|---|---|---|---|---|",
    ]
    for protocol, (each, groups) in per_draw.items():
        names = sorted(set(groups))
        for method in METHODS[1:]:
            diff = each["paperfeed"] - each[method]
            se = np.zeros(2)
            if len(diff) > 1:
                se = diff.std(axis=0, ddof=1) / math.sqrt(len(diff))
            by = np.array([diff[[g == n for g in groups]].mean(axis=0) for n in names])
            ahead = (by > 0).sum(axis=0)
            lines.append(
                f"| {protocol} | {method} | {diff[:, 0].mean():+.4f} ± {se[0]:.4f} "
                f"| {diff[:, 1].mean():+.4f} ± {se[1]:.4f} "
                f"| {ahead[0]} / {ahead[1]} of {len(names)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--reps", type=int, default=10, help="draws per page and k (protocol 1)")
    parser.add_argument("--embedder", default=None, help="minilm (default) or static")
    parser.add_argument("--timing", action="store_true", help="also time training at 100 k papers")
    parser.add_argument(
        "--validation",
        action="store_true",
        help="score on the tuning splits (later page windows, readers' training items 7 / 3)",
    )
    args = parser.parse_args()
    seed_pages(), citeulike_subset()  # both present, or stop now with a message
    embedder = args.embedder or ("static" if args.quick else "minilm")
    reps, pages, readers = (1, 2, 10) if args.quick else (args.reps, 5, 50)
    results: dict[str, dict[str, dict[str, float]]] = {}
    per_draw: PerDraw = {}
    results.update(topic_pages(embedder, reps, pages, per_draw, args.validation))
    results["citeulike"] = citeulike(embedder, readers, per_draw, args.validation)
    output: dict[str, object] = dict(results)
    if args.timing:
        output["timing"] = timing(**({"n": 5_000} if args.quick else {}))
    if args.json:
        print(json.dumps(output, indent=2))
    else:
        print(table(results))
        print("\nPaired differences (mean ± standard error over the draws):\n")
        print(spread(per_draw))
        if args.timing:
            print(f"\ntraining + scoring: {output['timing']}")


if __name__ == "__main__":
    main()
