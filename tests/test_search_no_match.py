"""A query nothing is close to says so instead of listing "Results 1-20" of unrelated papers
(refs #15); the floor is measured by bench/no_match_floor.py (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.index.semantic import SemanticIndex
from paperfeed.rank.search import NEAREST_SHOWN, search
from tests_support import seed_hf

NONSENSE = "xqzv blorpt flimflam"


@pytest.fixture
def semantic(engine: Engine, clock: FrozenClock, tmp_path: Any) -> SemanticIndex:
    seed_hf(engine, clock)
    return SemanticIndex(engine, embedder="minilm", exact_max=100_000, cache_dir=tmp_path)


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_nonsense_finds_no_close_match(engine: Engine, semantic: SemanticIndex, mode: str) -> None:
    result = search(engine, semantic, NONSENSE, mode=mode, limit=20)
    assert result.close_match is False
    assert result.notice is not None and "no close match" in result.notice.lower()
    assert 0 < len(result.papers) <= NEAREST_SHOWN
    assert result.more is False


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_a_real_query_is_a_close_match(engine: Engine, semantic: SemanticIndex, mode: str) -> None:
    result = search(engine, semantic, "speculative decoding verification", mode=mode, limit=20)
    assert result.close_match is True
    assert result.notice is None
    assert len(result.papers) == 20


def test_the_search_page_says_there_is_no_close_match(
    engine: Engine, semantic: SemanticIndex, tmp_path: Any, db_url: str
) -> None:
    settings = load_settings(database_url=db_url, index_dir=str(tmp_path), embedder="minilm")
    with TestClient(create_app(settings)) as client:
        page = client.get("/search", params={"q": NONSENSE})
    assert page.status_code == 200
    assert "No close match" in page.text
    assert "Results 1–" not in page.text
