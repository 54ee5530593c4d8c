"""The recommendation quality bench's spread: each baseline's paired difference from
paperfeed, its standard error over the draws, and the groups where paperfeed is ahead."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

# Pure arithmetic on arrays: no database, nothing for the PostgreSQL pass to repeat.
pytestmark = pytest.mark.sqlite_only

BENCH = Path(__file__).resolve().parents[1] / "bench" / "recommend_quality.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recommend_quality_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row(text: str, protocol: str, method: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:2] == [protocol, method]:
            return cells[2:]
    raise AssertionError(f"no row for {protocol} / {method}")


def test_spread_gives_the_paired_difference_its_standard_error_and_the_groups_ahead() -> None:
    bench = _bench()
    paperfeed = np.array([[0.5, 0.6], [0.3, 0.2], [0.4, 0.4], [0.1, 0.3]])
    svm = np.array([[0.2, 0.6], [0.1, 0.4], [0.4, 0.2], [0.3, 0.3]])
    each = {
        "paperfeed": paperfeed,
        "tfidf_svm": svm,
        "centroid": paperfeed - 0.1,
        "popularity": paperfeed + 0.05,
    }
    groups = ["page a", "page a", "page b", "page b"]
    text = bench.spread({"topic_pages_k10": (each, groups)})

    diff = paperfeed[:, 0] - svm[:, 0]  # +0.3, +0.2, 0, -0.2
    se = diff.std(ddof=1) / math.sqrt(len(diff))
    recall, ndcg, ahead = _row(text, "topic_pages_k10", "tfidf_svm")
    assert recall == f"{diff.mean():+.4f} ± {se:.4f}"
    assert re.match(r"[+-]0\.0000 ± ", ndcg)  # nDCG: 0, -0.2, +0.2, 0
    # recall: page a +0.25 (ahead), page b -0.1; nDCG: page a -0.1, page b +0.1 (ahead)
    assert ahead == "1 / 1 of 2"
    assert _row(text, "topic_pages_k10", "centroid")[2] == "2 / 2 of 2"
    assert _row(text, "topic_pages_k10", "popularity")[0].startswith("-0.0500 ± 0.0000")
    assert _row(text, "topic_pages_k10", "popularity")[2] == "0 / 0 of 2"
    assert not re.search(r"\|\s*paperfeed\s*\|", text.split("\n", 2)[2])  # no self-row
