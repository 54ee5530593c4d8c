"""How fast "For you" answers and how much memory two serve workers hold for it (#17).

    python bench/recommend_speed.py --workdir DIR --size 100000 [--members 5] [--json]
    python bench/recommend_speed.py --workdir DIR --synthetic 1000000   # ranking cost only

The corpus (made once, kept in ``DIR/corpus-<size>.db``): the demo's real papers (their
titles, abstracts and MiniLM vectors, read from a database made by ``paperfeed migrate`` +
``paperfeed ingest sample``, ``--demo``), then papers mixed from two of them: sentences of
both abstracts, ``normalise(w v_a + (1 - w) v_b + 0.55 g / sqrt(d))`` with ``w`` in
[0.5, 0.8] (bench/corpus.py's recipe, without its calibration). A few members upvote 5-20
papers of one neighbourhood each.

Two worker processes start together on that database, as ``paperfeed serve --workers 2``
does, in each mode:

- ``private``: no index folder; each worker makes its own features (what every worker
  did before the features were shared);
- ``shared``: one index folder, emptied first; the first worker to look makes the
  features and writes them, the other waits for the files and maps them;
- ``mapped``: the files a ``shared`` run left (as ``paperfeed index update`` makes them
  ahead of the workers): both workers map them.

Each prints the seconds until its features were ready, every member's first answer
(training the member's model and scoring the corpus) and later one (cached), and its PSS
(``/proc/self/smaps_rollup``: shared pages split between the processes that map them)
and RSS while both are alive; the sum of PSS is what the machine holds for them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _smaps() -> dict[str, float]:
    out: dict[str, float] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as lines:
        for line in lines:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                out[parts[0][:-1].lower() + "_mb"] = int(parts[1]) / 1024
    return out


def _real(demo: Path) -> tuple[list[str], list[str], np.ndarray, str]:
    from sqlalchemy import select

    from paperfeed.index.vectors.table import load_vectors, recorded_model
    from paperfeed.store.engine import make_engine
    from paperfeed.store.tables.papers import papers

    engine = make_engine(f"sqlite:///{demo}", create=False)
    with engine.connect() as conn:
        recorded = recorded_model(conn)
        assert recorded is not None, f"{demo} holds no vectors: ingest the sample first"
        ids, matrix = load_vectors(conn, recorded[0])
        text = {
            int(pid): (title, abstract)
            for pid, title, abstract in conn.execute(
                select(papers.c.id, papers.c.title, papers.c.abstract)
            )
        }
    engine.dispose()
    titles = [text[int(i)][0] for i in ids]
    abstracts = [text[int(i)][1] for i in ids]
    return titles, abstracts, matrix, recorded[0]


def make_corpus(db: Path, demo: Path, size: int, members: int) -> None:
    from paperfeed.index.vectors.table import record_model, store_vectors
    from paperfeed.models import Paper
    from paperfeed.store import users, votes
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate
    from paperfeed.store.papers import insert_papers

    titles, abstracts, real, model = _real(demo)
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    rng = np.random.default_rng(17)
    n_real, dim = real.shape
    sentences = [a.split(". ") for a in abstracts]
    with writing(engine) as conn:
        record_model(conn, model, dim)
    made = 0
    while made < size:
        count = min(2_000, size - made)
        a = rng.integers(0, n_real, count)
        b = rng.integers(0, n_real, count)
        w = rng.uniform(0.5, 0.8, count)[:, None]
        vec = w * real[a] + (1 - w) * real[b]
        vec += 0.55 * rng.standard_normal((count, dim)) / np.sqrt(dim)
        batch = []
        for j in range(count):
            i = made + j
            if i < n_real:
                title, abstract, vec[j] = titles[i], abstracts[i], real[i]
            else:
                title = f"{titles[a[j]]}: {' '.join(titles[b[j]].split()[:3])}"
                sa, sb = sentences[a[j]], sentences[b[j]]
                abstract = ". ".join(sa[: max(1, len(sa) * 2 // 3)] + sb[len(sb) // 2 :])
            batch.append(
                Paper(
                    title=title, abstract=abstract, arxiv_id=f"9{i // 100000:03d}.{i % 100000:05d}"
                )
            )
        with writing(engine) as conn:
            ids = insert_papers(conn, batch, NOW)
            store_vectors(conn, model, ids, vec.astype(np.float32))
        made += count
        print(f"\r{made:,} papers", end="", file=sys.stderr)
    print(file=sys.stderr)
    with writing(engine) as conn:
        for m in range(members):
            member = users.create_user(
                conn,
                email=f"m{m}@example.org",
                username=f"m{m}",
                password_hash="x",
                role="member",
                now=NOW,
                verified=True,
            )
            centre = real[int(rng.integers(0, n_real))]
            near = np.argsort(-(real @ centre))[: int(rng.integers(5, 21))]
            for row in near:
                votes.set_vote(conn, paper_id=int(row) + 1, user_id=member.id, on=True, now=NOW)
    engine.dispose()


def worker(url: str, index_dir: str | None, members: list[int], barrier: Any, out: Any) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    started = time.perf_counter()
    from paperfeed.rank.recommend.feed import Recommender
    from paperfeed.rank.trending import TrendingRule
    from paperfeed.store.engine import make_engine

    engine = make_engine(url, create=False)
    rec = Recommender(
        engine,
        zone=UTC,  # type: ignore[arg-type]
        rule=TrendingRule(1.8, 7),
        half_life_days=60,
        index_dir=Path(index_dir) if index_dir else None,
    )
    rec.wait_seconds = None  # measure the answers, not the fallback
    barrier.wait()
    started = time.perf_counter()
    assert rec.prepared(3600)
    ready = time.perf_counter() - started
    first, later = [], []
    for member in members:
        t = time.perf_counter()
        shown = rec.for_you(member, now=NOW)
        first.append(time.perf_counter() - t)
        assert shown.items and not shown.preparing
        for _ in range(3):
            t = time.perf_counter()
            rec.for_you(member, now=NOW)
            later.append(time.perf_counter() - t)
    barrier.wait()  # both alive: their shared pages are split between them
    memory = _smaps()
    barrier.wait()
    cache = rec.cache()
    out.put(
        {
            "ready_s": ready,
            "first_s": first,
            "later_s": later,
            "builds": cache.builds if cache else 0,
            **memory,
        }
    )


def run_mode(url: str, index_dir: str | None, members: list[int]) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(url, index_dir, members, barrier, out)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    first = [x for r in results for x in r["first_s"]]
    later = [x for r in results for x in r["later_s"]]
    return {
        "ready_s": [round(r["ready_s"], 2) for r in results],
        "first_ms": {
            "median": round(statistics.median(first) * 1000),
            "worst": round(max(first) * 1000),
        },
        "later_ms": {
            "median": round(statistics.median(later) * 1000, 1),
            "worst": round(max(later) * 1000, 1),
        },
        "builds": [r["builds"] for r in results],
        "pss_mb_sum": round(sum(r["pss_mb"] for r in results)),
        "rss_mb": [round(r["rss_mb"]) for r in results],
        "load": os.getloadavg(),
    }


def synthetic(workdir: Path, n: int) -> dict[str, Any]:
    """Ranking cost alone at ``n`` papers: features written as files and mapped, random
    unit embeddings and tf-idf rows of 80 terms, one member of 10 positives."""
    from scipy import sparse

    from paperfeed.index.recommend.features import Features
    from paperfeed.index.recommend.files import FeatureFiles
    from paperfeed.rank.recommend.decisions import fit, ranked

    files = FeatureFiles(workdir / f"synthetic-{n}", "synthetic")
    features = files.load()
    if features is None:
        rng = np.random.default_rng(3)
        dense = rng.standard_normal((n, 384), dtype=np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        per = 80
        cols = np.sort(rng.integers(0, 20_000, (n, per)), axis=1).astype(np.int32)
        data = rng.uniform(0.02, 0.2, n * per).astype(np.float32)
        terms = sparse.csr_matrix(
            (data, cols.ravel(), np.arange(0, n * per + 1, per, dtype=np.int64)), shape=(n, 20_000)
        )
        terms.sum_duplicates()
        vocab = tuple(f"t{i}" for i in range(20_000))
        made = Features(
            np.arange(1, n + 1), dense, terms, vocab, (1, n), fitted_on=n, idf=np.ones(20_000)
        )
        files.save(made)
        del made, dense, terms
        features = files.load()
    assert features is not None
    firsts = []
    for seed in range(5):
        weights = {int(p): 1.0 for p in np.random.default_rng(seed).integers(1, n, 10)}
        t = time.perf_counter()
        model = fit(features, weights, [], seed=seed)
        assert model is not None
        ranked(model, features, skip=set(weights), limit=170)
        firsts.append(time.perf_counter() - t)
    return {
        "papers": n,
        "train_and_score_ms": {
            "median": round(statistics.median(firsts) * 1000),
            "worst": round(max(firsts) * 1000),
        },
        "load": os.getloadavg(),
        **_smaps(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--demo", type=Path, help="a database made by paperfeed ingest sample")
    parser.add_argument("--synthetic", type=int, help="time the ranking alone at this size")
    parser.add_argument("--modes", default="private,shared,mapped")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.synthetic:
        print(json.dumps(synthetic(args.workdir, args.synthetic), indent=1))
        return
    db = args.workdir / f"corpus-{args.size}.db"
    if not db.exists():
        if args.demo is None:
            parser.error("--demo DB is needed to make the corpus the first time")
        make_corpus(db, args.demo, args.size, args.members)
    url = f"sqlite:///{db}"
    members = list(range(1, args.members + 1))
    report: dict[str, Any] = {"papers": args.size}
    for mode in args.modes.split(","):
        folder = None
        if mode in ("shared", "mapped"):
            folder = args.workdir / f"index-{args.size}"
        if mode == "shared":
            for old in folder.glob("recommend-*"):
                old.unlink()
        elif mode == "mapped" and not any(folder.glob("recommend-*.json")):
            parser.error("mode mapped needs the files of a shared run first")
        report[mode] = summary(run_mode(url, str(folder) if folder else None, members))
        print(json.dumps({mode: report[mode]}), file=sys.stderr)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
