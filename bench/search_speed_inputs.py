"""Inputs and helpers of bench/search_speed.py: the word-resampled corpus, queries, timing."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

import data_paths

ROOT = Path(__file__).resolve().parents[1]

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
    ("hybrid e2e p95", 1_000_000, 15.0, "ms"),  # #17: the query embedded inside search()
    ("recall@10", 1_000_000, 0.95, ""),  # #17: of the vector index vs exact search, at least
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
    """(title, abstract) of the unique real seed papers (shipped in the package), in order."""
    return [
        (" ".join(title.split()), " ".join(abstract.split()))
        for title, abstract in data_paths.seed_papers()
        if abstract
    ]


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
        rng = np.random.default_rng([self.seed, start])
        titles = self._texts(rng, self.title_words, rng.choice(self.title_lengths, count))
        abstracts = self._texts(rng, self.abstract_words, rng.choice(self.abstract_lengths, count))
        return self.dress(rng, start, titles, abstracts)

    def dress(
        self, rng: np.random.Generator, start: int, titles: list[str], abstracts: list[str]
    ) -> list[Any]:
        """Papers ``start`` .. with these texts, made-up authors, categories and dates."""
        from paperfeed.models import Paper

        count = len(titles)
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


def run_child(
    role: str,
    cfg: dict[str, Any],
    work: Path,
    *,
    script: str = str(Path(__file__).with_name("search_speed.py")),
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


def overlap(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    """Mean share of each truth list's ids found in the other list (recall@len(truth))."""
    shares = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return float(np.mean(shares)) if shares else 0.0
