"""What answers vector searches while a process loads its memory index (#17).

``PAPERFEED_VECTOR_BACKEND=auto`` on PostgreSQL answers from pgvector at once and loads the
machine's own index (mapped, or its HNSW graph built) on a thread of its own, then switches
to it; results stay right across the switch (changes made meanwhile are replayed from the
journal, hidden and deleted papers never appear). The processes of one machine load one at a
time, so one builds the graph and the others map it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete

from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.index.machines.positions import switch_recorder
from paperfeed.index.query import parse_query
from paperfeed.index.semantic import SemanticIndex, interim_backend, resolve_backend, semantic_index
from paperfeed.index.vectors import background
from paperfeed.index.vectors.in_memory import VectorIndex, store_vectors
from paperfeed.index.vectors.pgvector_index import PgVectorIndex
from paperfeed.rank.search import search
from paperfeed.store import machines, moderation, users
from paperfeed.store import papers as store
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import papers
from tests_support import seed_hf

QUERY = "agents that use tools to answer questions"


@pytest.fixture
def hub(engine: Engine, clock: FrozenClock) -> Engine:
    seed_hf(engine, clock)
    return engine


def ids(found: Any) -> list[int]:
    return [h.paper_id for h in found.hits]


def exact(engine: Engine, k: int) -> list[int]:
    """What search() finds for QUERY through a fresh exact index of the stored vectors."""
    fresh = SemanticIndex(engine, embedder="minilm", exact_max=10**6, cache_dir=None)
    fresh.background = False
    fresh.wait_for_graph = True
    return ids(search(engine, fresh, QUERY, mode="semantic", limit=k))


def id_of(engine: Engine, arxiv_id: str) -> int:
    with engine.connect() as conn:
        found = store.get_by_arxiv_id(conn, arxiv_id)
    assert found is not None
    return found.id


def test_the_backend_setting_resolves_per_database() -> None:
    assert resolve_backend("auto", "postgresql") == resolve_backend("auto", "sqlite") == "memory"
    assert interim_backend("auto", "postgresql") == "database"
    assert interim_backend("auto", "sqlite") is None
    assert interim_backend("memory", "postgresql") is None
    assert interim_backend("database", "postgresql") is None
    assert resolve_backend("database", "postgresql") == "database"


@pytest.mark.postgres
def test_auto_answers_from_pgvector_at_once_then_switches_to_its_graph(
    hub: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> None:
    # The load finishes, then waits at the gate: what changes meanwhile is not in the index
    # handed over, and must be replayed from the journal after the switch.
    loaded, gate = threading.Event(), threading.Event()
    real = VectorIndex.load.__func__  # type: ignore[attr-defined]

    def held(cls: type[VectorIndex], *args: Any, **kwargs: Any) -> VectorIndex:
        index: VectorIndex = real(cls, *args, **kwargs)
        if threading.current_thread().name == "vector-index-load":  # not exact()'s
            loaded.set()
            assert gate.wait(60)
        return index

    monkeypatch.setattr(VectorIndex, "load", classmethod(held))
    settings = Settings(
        database_url=hub.url.render_as_string(hide_password=False),
        index_dir=str(tmp_path / "m"),
        machine_id="web-1",
        vector_exact_max=10,
    )
    semantic = semantic_index(hub, settings, on_switch=switch_recorder(hub, settings))
    assert (semantic.backend, semantic.interim) == ("memory", "database")
    method = semantic.search_method(30)
    assert method.startswith("pgvector") and "until a serving process has built" in method

    first = search(hub, semantic, QUERY, mode="semantic", limit=10)
    assert isinstance(semantic.index(), PgVectorIndex) and semantic.answering() == "pgvector"
    assert semantic.building_graph(), "the memory index loads in the background"
    assert ids(first) == exact(hub, 10)
    assert loaded.wait(60)

    # Meanwhile: a paper moves next to the query, the nearest is hidden, another deleted.
    moved, nearest, gone = id_of(hub, "2606.12730"), ids(first)[0], ids(first)[1]
    target = semantic.query_vector(parse_query(QUERY).semantic_text)[None, :]
    with writing(hub) as conn:
        store_vectors(conn, "minilm-l6-int8", [moved], target)
        mod = users.create_user(
            conn,
            email="m@x.org",
            username="mod",
            password_hash="h",
            role="moderator",
            now=clock.now(),
        )
        moderation.hide_paper(conn, paper_id=nearest, by=mod.id, reason="spam", now=clock.now())
        conn.execute(delete(papers).where(papers.c.id == gone))  # outside the journal
    during = ids(search(hub, semantic, QUERY, mode="semantic", limit=10))
    assert during[0] == moved and nearest not in during and gone not in during

    gate.set()
    semantic.join_graph(60)
    assert not semantic.building_graph() and semantic.answering() == "hnsw"
    after = ids(search(hub, semantic, QUERY, mode="semantic", limit=10))
    assert after[0] == moved and nearest not in after and gone not in after
    # The deleted paper's vector went outside the journal: the page is one short until the
    # index's next row count (every reconcile_seconds) notices, never wrong.
    assert after == exact(hub, 10)[: len(after)] and len(after) >= 9
    monkeypatch.setattr(VectorIndex, "reconcile_seconds", 0.0)
    assert ids(search(hub, semantic, QUERY, mode="semantic", limit=10)) == exact(hub, 10)

    # After the switch too: changes reach the graph through the journal.
    again = ids(first)[5]
    with writing(hub) as conn:
        store_vectors(conn, "minilm-l6-int8", [again], target)
    assert set(ids(search(hub, semantic, QUERY, mode="semantic", limit=2))) == {moved, again}

    # The switch is recorded for `index status`, and the folder's graph is reported.
    with hub.connect() as conn:
        (row,) = [m for m in machines.list_machines(conn) if m.machine_id == "web-1"]
    assert row.state == "serving"
    assert row.note is not None and "HNSW graph (built, 30 papers)" in row.note
    assert "before: pgvector" in row.note
    status = CliRunner().invoke(
        cli,
        ["index", "status"],
        env={
            "PAPERFEED_DATABASE_URL": settings.database_url,
            "PAPERFEED_INDEX_DIR": settings.index_dir,
            "PAPERFEED_VECTOR_EXACT_MAX": "10",
            "PAPERFEED_VECTOR_BACKEND": "auto",
        },
        catch_exceptions=False,
    )
    assert status.exit_code == 0, status.output
    assert "search: hnsw (this machine's graph; pgvector while" in status.output
    assert "vector search: this process's HNSW graph (built, 30 papers)" in status.output


@pytest.mark.postgres
def test_a_failed_load_stays_on_pgvector_and_is_tried_again(
    hub: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = VectorIndex.load.__func__  # type: ignore[attr-defined]
    calls: list[int] = []

    def failing_once(cls: type[VectorIndex], *args: Any, **kwargs: Any) -> VectorIndex:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the disk is full")
        index: VectorIndex = real(cls, *args, **kwargs)
        return index

    monkeypatch.setattr(VectorIndex, "load", classmethod(failing_once))
    semantic = SemanticIndex(hub, embedder="minilm", exact_max=10, cache_dir=tmp_path / "m")
    want = [h.paper_id for h in semantic.search(QUERY, 5)]
    semantic.join_graph(60)
    assert semantic.answering() == "pgvector" and len(calls) == 1
    assert [h.paper_id for h in semantic.search(QUERY, 5)] == want, "pgvector goes on"
    assert not semantic.building_graph(), "not again at once"
    monkeypatch.setattr(background, "RETRY_SECONDS", 0.0)
    semantic.search(QUERY, 5)
    semantic.join_graph(60)
    assert semantic.answering() == "hnsw" and len(calls) == 2
    assert [h.paper_id for h in semantic.search(QUERY, 5)] == want


@pytest.mark.postgres
def test_a_command_keeps_to_pgvector_and_index_update_loads_the_graph(
    hub: Engine, tmp_path: Path
) -> None:
    from paperfeed.cli.base import Context

    settings = Settings(
        database_url=hub.url.render_as_string(hide_password=False),
        index_dir=str(tmp_path / "m"),
        vector_exact_max=10,
    )
    semantic = Context(settings).semantic()
    semantic.search(QUERY, 5)
    assert semantic.answering() == "pgvector" and not semantic.building_graph()
    env = {
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_INDEX_DIR": settings.index_dir,
        "PAPERFEED_VECTOR_EXACT_MAX": "10",
    }
    updated = CliRunner().invoke(cli, ["index", "update"], env=env, catch_exceptions=False)
    assert "vector graph: 30 papers (built)" in updated.output, updated.output
    # A serving process then maps it: nothing left to build.
    serving = SemanticIndex(hub, embedder="minilm", exact_max=10, cache_dir=tmp_path / "m")
    serving.index()
    serving.join_graph(60)
    loaded = serving.index()
    assert isinstance(loaded, VectorIndex) and loaded.origin == "cache"


def test_the_workers_of_a_machine_build_one_graph(hub: Engine, tmp_path: Path) -> None:
    """Two processes without a graph: one builds it, the other waits and maps it."""
    workers = [
        SemanticIndex(hub, embedder="minilm", exact_max=10, cache_dir=tmp_path / "m")
        for _ in range(2)
    ]
    for worker in workers:
        worker.index()  # pgvector (auto on PostgreSQL) or an exact scan (memory) meanwhile
    for worker in workers:
        worker.join_graph(120)
    origins = []
    for worker in workers:
        index = worker.index()
        assert isinstance(index, VectorIndex) and index.kind == "hnsw"
        origins.append(index.origin)
    assert sorted(origins) == ["built", "cache"]
    q = workers[0].query_vector(QUERY)
    assert workers[0].search(QUERY, 10) == workers[1].search(QUERY, 10)
    assert np.isfinite(q).all()
