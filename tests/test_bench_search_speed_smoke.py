"""bench/search_speed.py stays runnable: a 2,000-paper run with the static embedder.

The corpus is the realistic one (bench/corpus.py), capped at 500 real papers so that
1,500 synthetic ones are made too. Only the shape of the JSON and that every measured
number is positive are asserted; timings are not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The benchmark builds and times a SQLite file of its own, whatever the pass: the
# PostgreSQL pass would repeat the same run.
pytestmark = pytest.mark.sqlite_only

BENCH = Path(__file__).resolve().parents[1] / "bench" / "search_speed.py"
SIZE = 2000
REAL = 500
QUERIES = 20


@pytest.fixture(scope="module")
def report() -> dict:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--sizes",
            str(SIZE),
            "--real-max",
            str(REAL),
            "--queries",
            str(QUERIES),
            "--embedder",
            "static",
            "--throughput-embedders",
            "static",
            "--throughput-docs",
            "50",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    data: dict = json.loads(out.stdout)
    return data


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


@pytest.mark.slow
def test_report_has_every_section(report: dict) -> None:
    assert set(report) == {"machine", "settings", "throughput", "sizes", "targets", str(SIZE)}
    assert report["settings"]["queries"] == QUERIES
    assert report["settings"]["sizes"] == [SIZE]
    assert set(report["sizes"]) == {str(SIZE)}
    throughput = report["throughput"]["static"]
    assert throughput["name"] == "static-minilm-256"
    assert _positive(throughput["papers_per_s"]) and _positive(throughput["peak_rss_mb"])


@pytest.mark.slow
def test_size_row_holds_positive_measurements(report: dict) -> None:
    row = report["sizes"][str(SIZE)]
    assert row["papers"] == SIZE
    assert row["corpus"] == "realistic"
    assert row["vectors"] == {"real": REAL, "synthetic": SIZE - REAL}
    assert row["dim"] == 256
    assert row["vector_index"]["kind"] == "exact"
    for key in (
        "generate_s",
        "synthesize_s",
        "embed_s",
        "papers_s",
        "lexical_s",
        "tantivy_s",
        "vectors_s",
        "total_s",
    ):
        assert _positive(row["build_s"][key]), key
    assert _positive(row["serve_s"]["index_load_s"])
    assert _positive(row["disk"]["db_wal_mb"])
    assert _positive(row["disk"]["tantivy_mb"])
    for part in ("papers", "lexical", "vectors"):
        assert _positive(row["disk"]["parts_mb"][part]), part
    for process in ("build", "serve", "bm25s", "floor"):
        assert _positive(row["peak_rss_mb"][process]), process
    assert _positive(row["query_embedding_ms"]["p50"])
    for mode in (
        "lexical",
        "lexical_fts5",
        "semantic",
        "hybrid",
        "hybrid_e2e",
        "bm25s",
        "numpy_floor",
        "parts_total",
    ):
        latency = row["latency_ms"][mode]
        assert _positive(latency["p50"]) and latency["p95"] >= latency["p50"], mode
    assert _positive(row["ratios"]["lexical_vs_bm25s"])
    assert _positive(row["ratios"]["semantic_vs_floor"])
    # An exact index finds what brute force finds.
    assert row["semantic_recall_at_10"] == pytest.approx(1.0)
    assert 0 < row["lexical_overlap_at_10_with_bm25s"] <= 1
    assert _positive(row["lexical_matches"]["median"])


@pytest.mark.slow
def test_targets_not_measured_at_this_size(report: dict) -> None:
    assert [t["size"] for t in report["targets"]] == [100_000] + [1_000_000] * 4
    assert all(t["pass"] is None and t["value"] is None for t in report["targets"])


@pytest.mark.slow
def test_summary_per_size_at_the_top_level(report: dict) -> None:
    """The headline figures of #17: ``{"<size>": {"hybrid_e2e_ms": {"p50", "p95"}, ...}}``."""
    summary = report[str(SIZE)]
    assert set(summary) >= {"hybrid_e2e_ms", "floor_ms", "recall_at_10", "serve_rss_mb"}
    row = report["sizes"][str(SIZE)]
    for key in ("hybrid_e2e_ms", "floor_ms"):
        assert set(summary[key]) == {"p50", "p95"}, key
        assert _positive(summary[key]["p50"]) and summary[key]["p95"] >= summary[key]["p50"]
    assert summary["floor_ms"]["p50"] == row["latency_ms"]["numpy_floor"]["p50"]
    assert summary["recall_at_10"] == pytest.approx(1.0)
    assert _positive(summary["serve_rss_mb"])
    assert summary["serve_rss_mb"] <= row["peak_rss_mb"]["serve"]
