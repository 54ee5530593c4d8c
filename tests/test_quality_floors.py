"""Quality floors: a change that costs search or recommendations a few points fails here.

Each floor is a figure documented in docs/benchmarks.md minus a small margin (0.01 nDCG).
The data may not ship with paperfeed (SciFact is CC BY-NC, the CiteULike subset has no
licence): the tests read it from PAPERFEED_EXTERNAL_DATA_DIR (default ../shared/data) and
skip, saying where they looked, when it is absent. They are marked ``quality``: ``make test``
runs them, ``make test-fast`` does not.

Both use the static embedder (thousands of abstracts a second) so that each stays within
about a minute on two cores; MiniLM's figures, minutes of embedding away, are the
benchmarks' (bench/search_quality.py, bench/recommend_quality.py).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from paperfeed.rank.evaluate import (
    Indexed,
    Judged,
    load_beir,
    rankings_for,
    score_rankings,
    throwaway_store,
)

ROOT = Path(__file__).resolve().parents[1]
MARGIN = 0.01

#: docs/benchmarks.md, "Search quality": SciFact train, nDCG@10.
SEARCH_DOCUMENTED = {
    "lexical": 0.6992,  # tantivy, the default word engine
    "hybrid": 0.7039,  # tantivy + the static embedder, the default fusion
}
#: docs/benchmarks.md, "Recommendation quality": static embedder, nDCG@20.
RECOMMEND_DOCUMENTED = {"topic_pages": 0.2680, "citeulike": 0.0743}

# The searches and the ranking read no database beyond their own throw-away SQLite file.
pytestmark = [pytest.mark.quality, pytest.mark.sqlite_only]

ExternalData = Callable[[str, str], Path]


@pytest.fixture(scope="module")
def indexed_stores() -> Iterator[tuple[ExitStack, dict[Path, tuple[Indexed, Judged]]]]:
    """SciFact indexed once for the module's tests (each asks for the data itself, so each
    skips by itself when it is absent)."""
    with ExitStack() as stack:
        yield stack, {}


@pytest.fixture
def scifact_store(
    external_data: ExternalData,
    indexed_stores: tuple[ExitStack, dict[Path, tuple[Indexed, Judged]]],
) -> tuple[Indexed, Judged]:
    folder = external_data("scifact", "SciFact (BEIR layout)")
    stack, stores = indexed_stores
    if folder not in stores:
        data = load_beir(
            folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "train.tsv"
        )
        stores[folder] = stack.enter_context(throwaway_store(data, embedder="static")), data
    return stores[folder]


@pytest.mark.parametrize("mode", sorted(SEARCH_DOCUMENTED))
def test_search_ndcg_stays_above_its_floor(
    mode: str, scifact_store: tuple[Indexed, Judged]
) -> None:
    indexed, data = scifact_store
    assert len(data.qrels) == 809, "SciFact train has 809 judged queries"
    scores = score_rankings(rankings_for(indexed, data, mode), data)
    floor = SEARCH_DOCUMENTED[mode] - MARGIN
    assert scores["ndcg@10"] >= floor, f"{mode} nDCG@10 {scores['ndcg@10']} < floor {floor}"


@pytest.fixture
def recommend_bench(external_data: ExternalData) -> object:
    """bench/recommend_quality.py as a module (the protocol is defined there, once)."""
    external_data("seed_pages.jsonl", "The seed pages")
    external_data("citeulike_subset", "The CiteULike subset")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(
            "recommend_quality", ROOT / "bench" / "recommend_quality.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return module


def test_recommendation_ndcg_stays_above_its_floor(
    recommend_bench: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = recommend_bench
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    # Only paperfeed's own ranking is guarded: the baselines (a LinearSVC per draw) are the
    # benchmark's business, and their rankings do not change paperfeed's.
    for baseline in ("tfidf_svm", "centroid", "popular"):
        monkeypatch.setattr(bench.Methods, baseline, lambda self, liked: [])  # type: ignore[attr-defined]
    per_draw: dict[str, object] = {}
    results = bench.topic_pages("static", 10, 5, per_draw)  # type: ignore[attr-defined]
    results["citeulike"] = bench.citeulike("static", 50, per_draw)  # type: ignore[attr-defined]
    for protocol, documented in RECOMMEND_DOCUMENTED.items():
        got = results[protocol]["paperfeed"]["ndcg@20"]
        floor = documented - MARGIN
        assert got >= floor, f"{protocol} nDCG@20 {got} < floor {floor}"
