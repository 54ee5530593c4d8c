"""For you from a shortlist against scoring every paper: agreement of the top 50, and time.

    python bench/recommend_shortlist.py --corpus DIR [--members 200] [--limit 50] [--json]

``--corpus`` is a corpus folder of bench/search_speed.py (``index/`` holding the HNSW
graph, the embeddings file and the recommendation features, as ``paperfeed index update``
leaves them; feature files from before postings get them added first, which reads every
tf-idf row once). Synthetic members like 1, 3, 5, 10 or 20 papers drawn from one to three
neighbourhoods of the corpus (a random paper's 60 nearest), every fourth one also marks
three papers of another neighbourhood "not interested"; each member's model is trained
as the page trains it (:func:`paperfeed.rank.recommend.decisions.fit`). For each member the bench
ranks the top ``--limit`` twice: by scoring every paper
(:func:`paperfeed.rank.recommend.decisions.ranked`, what For you did before) and from the shortlist
(:mod:`paperfeed.rank.recommend.shortlist`, the graph's candidates and the tf-idf
postings, then the full model), and reports the share of the exhaustive top that the
shortlist's top holds (mean, 10th percentile, worst; by number of liked papers), the
shortlist's size, and the time of each (median and worst), beside the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def open_corpus(index_dir: Path) -> tuple[Any, Any]:
    """The corpus's mapped features (postings added when missing) and its HNSW graph."""
    from paperfeed.index.recommend.files import FeatureFiles
    from paperfeed.index.vectors.hnsw import DEFAULT_PARAMS, GraphCache

    manifests = [
        p
        for p in index_dir.glob("recommend-*.json")
        if p.name.count(".") == 1  # the manifest, not a set's vocabulary
    ]
    if not manifests:
        raise SystemExit(f"{index_dir} holds no recommendation features: run index update")
    manifest = json.loads(manifests[0].read_text())
    files = FeatureFiles(index_dir, manifest["model"], manifest["database"])
    if not files.add_postings():
        raise SystemExit(f"could not add postings to the features in {index_dir}")
    features = files.load()
    assert features is not None and features.term_postings() is not None
    cached = GraphCache(
        index_dir, manifest["model"], features.dense.shape[1], DEFAULT_PARAMS
    ).load()
    if cached is None:
        raise SystemExit(f"{index_dir} holds no HNSW graph for {manifest['model']}")
    return features, cached[0]


def members(features: Any, graph: Any, count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n = len(features.ids)
    out = []
    for i in range(count):
        size = (1, 3, 5, 10, 20)[i % 5]
        hoods = 1 + i % 3
        liked: list[int] = []
        for _ in range(hoods):
            centre = features.dense_rows(np.array([rng.integers(0, n)]))[0]
            near = graph.search(centre, 60)
            liked += [int(x) for x in rng.choice(near, max(1, size // hoods), replace=False)]
        disliked: list[int] = []
        if i % 4 == 3:
            centre = features.dense_rows(np.array([rng.integers(0, n)]))[0]
            disliked = [int(x) for x in graph.search(centre, 3)]
        out.append({"liked": sorted(set(liked)), "disliked": disliked, "size": size})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from paperfeed.rank.recommend.decisions import fit, ranked
    from paperfeed.rank.recommend.shortlist import ranked_shortlist, shortlist

    load_before = os.getloadavg()
    features, graph = open_corpus(args.corpus / "index")

    def nearest(queries: np.ndarray, count: int, ef: int) -> list[np.ndarray]:
        return graph.search_many(queries, count, ef)

    overlaps: dict[int, list[float]] = {}
    sizes: list[int] = []
    took: dict[str, list[float]] = {"every_paper": [], "shortlist": []}
    for i, member in enumerate(members(features, graph, args.members, args.seed)):
        weights = {pid: 1.0 for pid in member["liked"]}
        model = fit(features, weights, member["disliked"], seed=i)
        assert model is not None
        skip = set(member["liked"]) | set(member["disliked"])
        started = time.perf_counter()
        every = ranked(model, features, skip=skip, limit=args.limit)
        took["every_paper"].append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = shortlist(model, features, nearest)
        assert rows is not None
        short = ranked_shortlist(model, features, rows, skip=skip, limit=args.limit)
        took["shortlist"].append(time.perf_counter() - started)
        sizes.append(len(rows))
        wanted = {pid for pid, _ in every}
        got = {pid for pid, _ in short}
        overlaps.setdefault(member["size"], []).append(len(wanted & got) / max(len(wanted), 1))

    every_overlap = [x for xs in overlaps.values() for x in xs]

    def spread(xs: list[float]) -> dict[str, float]:
        return {
            "mean": round(float(np.mean(xs)), 4),
            "p10": round(float(np.percentile(xs, 10)), 4),
            "worst": round(min(xs), 4),
        }

    def times(xs: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(xs) * 1000, 1),
            "worst_ms": round(max(xs) * 1000, 1),
        }

    report = {
        "corpus": str(args.corpus),
        "papers": len(features.ids),
        "members": args.members,
        "limit": args.limit,
        "overlap": spread(every_overlap),
        "overlap_by_liked": {str(k): spread(v) for k, v in sorted(overlaps.items())},
        "shortlist_size": {"median": int(statistics.median(sizes)), "worst": max(sizes)},
        "time": {name: times(xs) for name, xs in took.items()},
        "load_average": [load_before, os.getloadavg()],
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(
        f"{report['papers']:,} papers, {args.members} members: top {args.limit} overlap "
        f"{report['overlap']}; shortlist {report['shortlist_size']}; time {report['time']}; "
        f"load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    for size, row in report["overlap_by_liked"].items():
        print(f"  {size:>3} liked: {row}")


if __name__ == "__main__":
    main()
