"""The recommendation quality bench stays runnable (smoke-run on its --quick size; the
figures are not asserted, only their shape)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The benchmark reads no database (it ranks in memory): the PostgreSQL pass would repeat
# the same run.
pytestmark = pytest.mark.sqlite_only

BENCH = Path(__file__).resolve().parents[1] / "bench"
METHODS = {"paperfeed", "tfidf_svm", "centroid", "popularity"}


@pytest.mark.quality
@pytest.mark.parametrize("split", ["--timing", "--validation"])
def test_recommend_quality_bench_runs(split: str, external_data) -> None:  # type: ignore[no-untyped-def]
    # Both data sets stay outside the repository (the CiteULike subset has no licence).
    external_data("seed_pages.jsonl", "The seed pages")
    external_data("citeulike_subset", "The CiteULike subset")
    out = subprocess.run(
        [sys.executable, str(BENCH / "recommend_quality.py"), "--quick", "--json", split],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    data = json.loads(out.stdout)
    assert {"topic_pages", "topic_pages_k1", "topic_pages_k10", "citeulike"} <= set(data)
    for protocol, methods in data.items():
        if protocol == "timing":
            continue
        assert set(methods) == METHODS
        for values in methods.values():
            assert 0.0 <= values["recall@20"] <= 1.0
            assert 0.0 <= values["ndcg@20"] <= 1.0
    assert split != "--timing" or data["timing"]["median_ms"] > 0
