"""The stored model is read at most once a second per process (a round trip per search on
PostgreSQL otherwise), and at once after this process stored vectors or forgot them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from paperfeed.index import semantic as semantic_module
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vectors.in_memory import record_model
from paperfeed.store.engine import writing


def test_the_stored_model_is_read_at_most_once_a_second(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window no busy machine outlasts between two reads (the default is 1 s).
    monkeypatch.setattr(semantic_module, "MISMATCH_SECONDS", 30.0)
    semantic = SemanticIndex(engine, embedder="static", exact_max=1000, cache_dir=tmp_path)
    statements: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a, **_: statements.append(a[2]) if "index_state" in a[2] else None,
    )
    assert semantic.mismatch() is None  # nothing stored yet
    assert len(statements) == 1  # the one read of the stored model
    with writing(engine) as conn:  # another process rebuilds with another model
        record_model(conn, "another-model", 8)
    statements.clear()
    assert semantic.mismatch() is None  # read a moment ago: the answer is reused
    assert statements == []
    monkeypatch.setattr(semantic_module, "MISMATCH_SECONDS", 0.05)
    time.sleep(0.1)
    assert "another-model (8 dimensions)" in (semantic.mismatch() or "")
    assert "run `paperfeed index rebuild`" in (semantic.mismatch() or "")
    monkeypatch.setattr(semantic_module, "MISMATCH_SECONDS", 60.0)
    semantic.reset()  # this process forgets the vectors and their model: read again at once
    assert semantic.mismatch() is None
    semantic.embed_papers([])  # nothing to embed, nothing recorded
    assert semantic.mismatch() is None
