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
DATA = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "src" / "paperfeed" / "ingest" / "data" / "sample_papers.jsonl.gz"

EMBED_CHUNK = 512  # texts embedded (and saved) per step: a killed run resumes from there
BLOCK = 1000  # synthetic papers drawn together (from one seeded generator)
NEIGHBOURS = 32  # the second parent is among the first parent's nearest real papers
NOISE = 0.55  # sigma of the Gaussian noise, relative to a unit vector (calibrated)
THIRD_PARENT = 1 / 3  # share of synthetic papers with a third, unrelated parent
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass(frozen=True, slots=True)
class RealPaper:
    title: str
    abstract: str
    source: str  # hf_daily, seed or scifact


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def real_papers(data: Path = DATA) -> list[RealPaper]:
    """Every real paper at hand, deduplicated by lower-cased title, shuffled (seed 2026).

    The HF archive and SciFact are read from ``data`` when present (the seed pages ship
    with the package); a missing source is skipped with a note on stderr.
    """
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
    from paperfeed.index.embedder import load_embedder, paper_text

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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("action", choices=("embed",))
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--embedder", default="minilm")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    papers = real_papers(args.data)
    counts: dict[str, int] = {}
    for p in papers:
        counts[p.source] = counts.get(p.source, 0) + 1
    sys.stderr.write(f"[corpus] {len(papers):,} real papers: {counts}\n")
    vectors, name = real_vectors(papers, args.workdir, args.embedder)
    print(
        json.dumps(
            {"papers": len(papers), "sources": counts, "model": name, "shape": vectors.shape}
        )
    )


if __name__ == "__main__":
    main()
