"""Vectors in pgvector on PostgreSQL: the column, the per-model HNSW indexes, the index
that searches inside the database, and migration 0007.

Quality is judged against exact brute force on *structured* vectors (mixtures of
cluster centres plus noise, like real embeddings), as in test_vectors.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.engine import make_url

from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.errors import ConfigError, StorageError
from paperfeed.index.semantic import SemanticIndex, resolve_backend
from paperfeed.index.vectors import pgvector_index as vectors_pgvector
from paperfeed.index.vectors.in_memory import (
    VectorIndex,
    delete_vectors,
    load_vectors,
    store_vectors,
)
from paperfeed.index.vectors.pgvector_index import PgVectorIndex, ensure_index, hnsw_state
from paperfeed.models import Hit
from paperfeed.store import pgvector_schema
from paperfeed.store.bulk import copy_rows
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.migrate import _config, migrate
from paperfeed.store.tables.papers import paper_embeddings, papers
from paperfeed.store.vector_type import from_send, to_binary, to_text
from test_vectors import add_papers, reference, result_ids, structured
from tests_support import FIXTURES

pytestmark = pytest.mark.postgres

DIM = 384


@pytest.fixture
def pg(postgres_url: str) -> Engine:
    engine = make_engine(postgres_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


def store(engine: Engine, model: str, ids: list[int], matrix: np.ndarray) -> None:
    with writing(engine) as conn:
        store_vectors(conn, model, ids, matrix)


def uses_index(engine: Engine, model: str, dim: int, query: np.ndarray, where: str = "") -> bool:
    """Whether the planner answers an unfiltered k=10 query from the model's HNSW index."""
    expr = pgvector_schema.vector_expression(dim)
    sql = (
        f"EXPLAIN SELECT paper_id FROM paper_embeddings WHERE model = "
        f"{pgvector_schema.model_literal(model)} {where} ORDER BY {expr} <#> "
        f"CAST(:q AS vector({dim})) LIMIT 10"
    )
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(text(sql), {"q": to_text(query.tobytes())}).scalars())
    return pgvector_schema.index_name(model, dim) in plan


Corpus = tuple[Engine, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def corpus(new_database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:  # type: ignore[no-untyped-def]
    """3,000 structured 384-dim vectors of model "m" with its HNSW index, in a database
    these read-only tests share (built once: inserting them costs seconds)."""
    engine = make_engine(new_database(tmp_path_factory.mktemp("pgvector")))
    ids = add_papers(engine, 3000, datetime(2026, 11, 23, tzinfo=UTC))
    matrix = structured(3000, DIM)
    store(engine, "m", ids, matrix)
    assert ensure_index(engine, "m", DIM, background=False)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE paper_embeddings"))
    yield engine, np.asarray(ids, dtype=np.int64), matrix
    engine.dispose()


# --- the column ----------------------------------------------------------------------------


def test_vectors_round_trip_bit_for_bit(pg: Engine, clock: FrozenClock) -> None:
    ids = add_papers(pg, 4, clock.now())
    tricky = np.array(
        [[0.1, -0.0, 1e-38, 3.4e38], [1 / 3, -2.5, 7e-45, 1.0], [0.0] * 4, [np.pi] * 4],
        dtype=np.float32,
    )
    store(pg, "m", ids, tricky)
    with pg.connect() as conn:
        got_ids, got = load_vectors(conn, "m")
        kind = conn.execute(
            text("SELECT pg_typeof(vector)::text FROM paper_embeddings LIMIT 1")
        ).scalar_one()
    assert kind == "vector"
    assert got_ids.tolist() == ids
    assert got.tobytes() == tricky.tobytes()
    assert from_send(b"\x00\x01\x00\x00?\x80\x00\x00") == np.float32(1.0).tobytes()
    with pytest.raises(ValueError):
        from_send(b"\x00\x02\x00\x00?\x80\x00\x00")


def test_vectors_copied_in_binary_round_trip_bit_for_bit(pg: Engine, clock: FrozenClock) -> None:
    """``db copy`` writes the embeddings with a binary COPY, vectors in pgvector's binary
    input form (copy_rows in store/bulk.py): the same bits come back."""
    ids = add_papers(pg, 3, clock.now())
    tricky = np.array(
        [[0.1, -0.0, 1e-38, 3.4e38], [1 / 3, -2.5, 7e-45, 1.0], [np.pi] * 4], dtype=np.float32
    )
    rows = [
        {"paper_id": pid, "model": "m", "vector": row.tobytes()}
        for pid, row in zip(ids, tricky, strict=True)
    ]
    with writing(pg) as conn:
        copy_rows(conn, paper_embeddings, rows)
    with pg.connect() as conn:
        got_ids, got = load_vectors(conn, "m")
    assert got_ids.tolist() == ids and got.tobytes() == tricky.tobytes()
    assert to_binary(np.float32(1.0).tobytes()) == b"\x00\x01\x00\x00?\x80\x00\x00"


# --- search quality ------------------------------------------------------------------------


def test_pgvector_finds_the_exact_neighbours(corpus: Corpus) -> None:
    pg, ids, matrix = corpus
    index = PgVectorIndex.load(pg, "m")
    assert index.kind == "pgvector" and index.indexed and index.size == 3000
    queries = structured(40, DIM, seed=7)
    assert uses_index(pg, "m", DIM, queries[0])
    hits = total = 0
    for q in queries:
        found = index.search(q, 10)
        want = reference(ids, matrix, q, 10)
        assert len(found) == 10
        hits += len(set(result_ids(found)) & set(want))
        total += 10
        exact = {int(i): float(s) for i, s in zip(ids, matrix @ q, strict=True)}
        for pid, score in found:  # scores are the cosine, as the memory index gives
            assert score == pytest.approx(exact[pid], abs=1e-5)
        assert [s for _p, s in found] == sorted((s for _p, s in found), reverse=True)
    assert hits / total >= 0.95


def test_the_graph_walk_keeps_five_candidates_per_result(corpus: Corpus) -> None:
    # Measured on the realistic 100 k corpus: the top 10 of search's k = 100 held 0.90 of
    # the exact top 10 at ef_search 200, 0.95 at 400 (docs/benchmarks.md).
    pg, _ids, _matrix = corpus
    index = PgVectorIndex.load(pg, "m")
    for k, ef in ((1, 100), (10, 100), (100, 500), (150, 750), (400, 1000)):
        assert f"SET LOCAL hnsw.ef_search = {ef};" in index._settings(k)


def test_filters_and_exclusions_still_give_k_results(corpus: Corpus) -> None:
    pg, ids, matrix = corpus
    index = PgVectorIndex.load(pg, "m")
    rng = np.random.default_rng(3)
    for fraction, k in [(0.4, 10), (0.1, 10), (0.1, 50), (0.01, 10), (0.005, 20)]:
        allowed = np.sort(rng.choice(ids, int(len(ids) * fraction), replace=False))
        exclude = set(allowed[:3].tolist())
        hits = total = 0
        for q in structured(10, DIM, seed=11):
            found = result_ids(index.search(q, k, allowed=allowed, exclude=exclude))
            want = reference(ids, matrix, q, k, allowed=allowed, exclude=exclude)
            assert len(found) == min(k, len(allowed) - 3), (fraction, k)
            assert set(found) <= set(allowed.tolist()) - exclude
            hits += len(set(found) & set(want))
            total += len(want)
        assert hits / total >= 0.9, (fraction, k)
    q = matrix[5]
    two = np.array([ids[9], ids[5]])
    assert result_ids(index.search(q, 5, allowed=two)) == reference(ids, matrix, q, 5, two)
    assert index.search(q, 5, allowed=np.array([], dtype=np.int64)) == []
    assert index.search(q, 5, allowed=np.array([ids[5]]), exclude={int(ids[5])}) == []
    assert int(ids[5]) not in result_ids(index.search(q, 20, exclude={int(ids[5])}))


def test_a_scan_cut_short_is_completed_exactly(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg, ids, matrix = corpus
    index = PgVectorIndex.load(pg, "m")
    settings = PgVectorIndex._settings
    calls: list[int] = []

    def stingy(self: PgVectorIndex, k: int) -> str:
        calls.append(k)
        # No other plan either (a scan of the table or of the key's index, then a sort): the
        # planner must take the HNSW index to be cut short.
        stop_early = (
            "SET LOCAL hnsw.ef_search = 10; SET LOCAL hnsw.max_scan_tuples = 20; "
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
            "SET LOCAL enable_sort = off; "
        )
        return settings(self, k) + stop_early

    query = PgVectorIndex._query
    answers: list[tuple[bool, int]] = []

    def counted(self: PgVectorIndex, *args, exact: bool):  # type: ignore[no-untyped-def]
        found = query(self, *args, exact=exact)
        answers.append((exact, len(found)))
        return found

    monkeypatch.setattr(PgVectorIndex, "_settings", stingy)
    monkeypatch.setattr(PgVectorIndex, "_query", counted)
    # 600 of 3,000: still approximate (600² > 100 x 3,000). pgvector checks
    # max_scan_tuples only now and then (the cut scan visits 140-180 rows, not 20), so
    # the filter keeps one row in five: 100 would take some 500 visited.
    allowed = ids[::5]
    q = structured(1, DIM, seed=2)[0]
    found = result_ids(index.search(q, 100, allowed=allowed))
    assert calls == [100]
    assert answers[0][0] is False and answers[0][1] < 100  # the settings held: cut short
    assert answers[1:] == [(True, 100)]
    assert found == reference(ids, matrix, q, 100, allowed=allowed)


def test_queries_are_checked_like_the_memory_index(corpus: Corpus) -> None:
    pg, _ids, _matrix = corpus
    index = PgVectorIndex.load(pg, "m")
    with pytest.raises(ValueError):
        index.search(np.ones(DIM - 1), 5)
    assert index.search(np.zeros(DIM), 5) == []
    assert index.search(np.ones(DIM), 0) == []
    empty = PgVectorIndex.load(pg, "nothing-stored")
    assert empty.size == 0 and empty.search(np.ones(DIM), 5) == []


# --- models, changes, restarts -------------------------------------------------------------


def test_models_of_two_dimensions_share_the_column(pg: Engine, clock: FrozenClock) -> None:
    ids = add_papers(pg, 400, clock.now())
    big, small = structured(200, DIM), structured(200, 64, seed=1)
    store(pg, "big", ids[:200], big)
    store(pg, "small's", ids[200:], small)  # a quote in the name: a literal in the SQL
    assert ensure_index(pg, "big", DIM) and ensure_index(pg, "small's", 64)
    with pg.connect() as conn:
        assert hnsw_state(conn, "big", DIM) == "valid"
        assert hnsw_state(conn, "small's", 64) == "valid"
        assert hnsw_state(conn, "big", 64) == "missing"
    small_index = PgVectorIndex.load(pg, "small's")
    assert small_index.dim == 64 and small_index.size == 200
    found = result_ids(small_index.search(small[3], 10))
    assert found[0] == ids[203] and set(found) <= set(ids[200:])
    big_index = PgVectorIndex.load(pg, "big")
    assert set(result_ids(big_index.search(big[3], 300))) == set(ids[:200])


def test_inserts_updates_and_deletes_are_seen_at_once(pg: Engine, clock: FrozenClock) -> None:
    ids = np.asarray(add_papers(pg, 300, clock.now()))
    matrix = structured(300, DIM)
    assert ensure_index(pg, "m", DIM)  # before the vectors: every insert keeps it in step
    store(pg, "m", ids.tolist(), matrix)
    index = PgVectorIndex.load(pg, "m")
    other = PgVectorIndex.load(pg, "m")  # another worker: nothing to reload
    (new,) = add_papers(pg, 1, clock.now(), start=9000)
    target = structured(1, DIM, seed=99)[0]
    store(pg, "m", [new], target[None, :])
    assert result_ids(other.search(target, 1)) == [new]
    moved = -matrix[10]
    store(pg, "m", [int(ids[10])], moved[None, :])  # an update
    assert result_ids(other.search(moved, 1)) == [int(ids[10])]
    np.testing.assert_array_equal(index.vector_of(int(ids[10])), moved)
    with writing(pg) as conn:  # deleted with its paper (ON DELETE CASCADE)
        conn.execute(delete(papers).where(papers.c.id == new))
    assert new not in result_ids(index.search(target, 5))
    assert index.vector_of(new) is None
    assert index.refresh(full=True) == 0 and index.size == 300
    with writing(pg) as conn:
        delete_vectors(conn, "m")
    index.refresh(full=True)
    assert index.size == 0 and index.search(target, 5) == []


def test_an_index_made_before_any_vector_takes_the_first(
    pg: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window no busy machine outlasts while the vectors are stored (the default is 1 s).
    monkeypatch.setattr(vectors_pgvector, "REFRESH_SECONDS", 30.0)
    index = PgVectorIndex.load(pg, "late")
    assert index.dim == 0 and index.size == 0 and index.search(np.ones(DIM), 3) == []
    ids = add_papers(pg, 50, clock.now())
    matrix = structured(50, DIM)
    store(pg, "late", ids, matrix)  # by another process, say
    assert index.refresh() == 0 and index.size == 0  # not due yet: at most once a window
    index.refresh(full=True)
    assert index.dim == DIM and index.size == 50 and index.indexed
    assert result_ids(index.search(matrix[4], 1)) == [ids[4]]


def _graph_outgrew_memory(engine: Engine, memory: str) -> bool:
    """Build a second HNSW index over the corpus's vectors at ``memory`` (rolled back)
    and say whether pgvector reported that its graph no longer fit in memory."""
    notices: list[str] = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))  # type: ignore[union-attr]
        with conn.begin() as tx:
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{memory}'"))
            conn.execute(text("SET LOCAL max_parallel_maintenance_workers = 0"))
            conn.execute(
                text(
                    f"CREATE INDEX ix_probe ON paper_embeddings USING hnsw "
                    f"({pgvector_schema.vector_expression(DIM)} vector_ip_ops) "
                    f"WITH (m = {pgvector_schema.HNSW_M}, "
                    f"ef_construction = {pgvector_schema.HNSW_EF_CONSTRUCTION}) "
                    f"WHERE model = 'm'"
                )
            )
            tx.rollback()
    return any("no longer fits into maintenance_work_mem" in n for n in notices)


def test_index_builds_ask_for_the_memory_their_graph_needs(corpus: Corpus) -> None:
    engine, ids, _ = corpus
    memory = pgvector_schema.build_memory(len(ids), DIM, floor_mb=1)
    megabytes = int(memory.removesuffix("MB"))
    assert not _graph_outgrew_memory(engine, memory)  # the estimate is enough ...
    assert _graph_outgrew_memory(engine, f"{megabytes // 2}MB")  # ... and not twice too much
    # Linear in the vectors, never below PostgreSQL's default; 1 M x 384: about 2.3 GB.
    assert pgvector_schema.build_memory(0, DIM) == "64MB"
    assert 2_100 < int(pgvector_schema.build_memory(1_000_000, DIM).removesuffix("MB")) < 2_600


def test_a_restart_reuses_the_index_without_rebuilding(corpus: Corpus) -> None:
    pg, _ids, _matrix = corpus
    name = pgvector_schema.index_name("m", DIM)
    with pg.connect() as conn:
        oid = conn.execute(text("SELECT CAST(:n AS regclass)::oid"), {"n": name}).scalar_one()
    q = structured(1, DIM, seed=4)[0]
    before = PgVectorIndex.load(pg, "m").search(q, 10)
    fresh = make_engine(str(pg.url))
    try:
        again = PgVectorIndex.load(fresh, "m")
        assert again.indexed and again.search(q, 10) == before
        with fresh.connect() as conn:
            same = conn.execute(text("SELECT CAST(:n AS regclass)::oid"), {"n": name})
            assert same.scalar_one() == oid
    finally:
        fresh.dispose()


def test_a_missing_index_is_built_in_the_background(pg: Engine, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = add_papers(pg, 500, clock.now())
    matrix = structured(500, DIM)
    store(pg, "m", ids, matrix)  # copied in, say: no index yet
    monkeypatch.setattr(vectors_pgvector, "SYNC_BUILD_MAX", 10)
    index = PgVectorIndex.load(pg, "m")
    assert not index.indexed  # exact meanwhile
    assert result_ids(index.search(matrix[7], 3)) == reference(np.array(ids), matrix, matrix[7], 3)
    for thread in list(vectors_pgvector._builders.values()):
        thread.join(60)
    with pg.connect() as conn:
        assert hnsw_state(conn, "m", DIM) == "valid"
    monkeypatch.setattr(vectors_pgvector, "RECHECK_SECONDS", 0.0)
    index.refresh(full=True)
    assert index.indexed


# --- through SemanticIndex -----------------------------------------------------------------


def test_the_backend_setting(pg: Engine, sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # auto: each machine's own index on both, pgvector answering until it is loaded
    # (tests/test_vector_switch.py).
    assert resolve_backend("auto", "postgresql") == "memory"
    assert resolve_backend("auto", "sqlite") == "memory"
    assert resolve_backend("database", "postgresql") == "database"
    assert resolve_backend("memory", "postgresql") == "memory"
    with pytest.raises(ConfigError, match="PostgreSQL"):
        resolve_backend("database", "sqlite")
    with pytest.raises(ConfigError):
        resolve_backend("gpu", "postgresql")
    auto = SemanticIndex(pg, embedder="static", exact_max=10, cache_dir=tmp_path)
    memory = SemanticIndex(
        pg, embedder="static", exact_max=10, cache_dir=tmp_path, backend="memory"
    )
    database = SemanticIndex(
        pg, embedder="static", exact_max=10, cache_dir=tmp_path, backend="database"
    )
    assert (auto.backend, auto.interim) == ("memory", "database")
    assert (memory.backend, memory.interim) == ("memory", None)
    assert (database.backend, database.interim) == ("database", None)
    lite = make_engine(sqlite_url)
    try:
        with pytest.raises(ConfigError):
            SemanticIndex(lite, embedder="static", exact_max=10, cache_dir=None, backend="database")
    finally:
        lite.dispose()


def test_both_backends_answer_alike_on_postgresql(pg: Engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids = add_papers(pg, 60, clock.now())
    database = SemanticIndex(
        pg, embedder="static", exact_max=10, cache_dir=tmp_path, backend="database"
    )
    assert database.embed_missing() == 60
    memory = SemanticIndex(
        pg, embedder="static", exact_max=1000, cache_dir=tmp_path, backend="memory"
    )
    assert isinstance(database.index(), PgVectorIndex)
    assert isinstance(memory.index(), VectorIndex)
    with pg.connect() as conn:
        assert hnsw_state(conn, database.embedder.name, database.embedder.dim) == "valid"

    def same(got: list[Hit], want: list[Hit]) -> None:  # equal up to float rounding
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)
        assert len({h.paper_id for h in got} & {h.paper_id for h in want}) >= len(want) - 1

    for words in ("Paper 12", "Abstract 40.", "paper"):
        same(database.search(words, 10), memory.search(words, 10))
    window = np.array(ids[:30])
    got = database.similar([ids[3], ids[4]], 8, allowed=window)
    same(got, memory.similar([ids[3], ids[4]], 8, allowed=window))
    assert len(got) == 8 and not {ids[3], ids[4]} & {h.paper_id for h in got}
    assert {h.paper_id for h in got} <= set(ids[:30])
    database.reset()
    with pg.connect() as conn:
        assert hnsw_state(conn, database.embedder.name, database.embedder.dim) == "missing"


# --- migration 0007 ------------------------------------------------------------------------


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_converts_stored_vectors_both_ways(postgres_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url)
    try:
        ids = add_papers(engine, 120, clock.now())
        matrix = structured(120, DIM)
        store(engine, "m", ids[:100], matrix[:100])
        tiny = structured(20, 8)
        tiny[0] = [0.0, -0.0, 1e-45, 3.4e38, -1e-40, 1.0, 0.1, -2.5]  # zeros, subnormals
        store(engine, "tiny", ids[100:], tiny)
        _downgrade(engine, "0006")
        with engine.connect() as conn:
            kind = conn.execute(
                text("SELECT pg_typeof(vector)::text FROM paper_embeddings LIMIT 1")
            ).scalar_one()
            blobs = dict(
                conn.execute(
                    text("SELECT paper_id, vector FROM paper_embeddings WHERE model = 'm'")
                ).all()
            )
            blobs_tiny = dict(
                conn.execute(
                    text("SELECT paper_id, vector FROM paper_embeddings WHERE model = 'tiny'")
                ).all()
            )
            hnsw = conn.execute(
                text(
                    "SELECT count(*) FROM pg_indexes "
                    "WHERE indexname LIKE 'ix_paper_embeddings_hnsw%'"
                )
            ).scalar_one()
        assert kind == "bytea" and hnsw == 0
        assert [bytes(blobs[pid]) for pid in ids[:100]] == [row.tobytes() for row in matrix[:100]]
        assert bytes(blobs_tiny[ids[100]]) == tiny[0].tobytes()

        migrate(engine)
        with engine.connect() as conn:
            got_ids, got = load_vectors(conn, "m")
            tiny_ids, tiny_got = load_vectors(conn, "tiny")
            assert hnsw_state(conn, "m", DIM) == "valid"
            assert hnsw_state(conn, "tiny", 8) == "valid"
        assert got_ids.tolist() == ids[:100] and got.tobytes() == matrix[:100].tobytes()
        assert tiny_ids.tolist() == ids[100:] and tiny_got.tobytes() == tiny.tobytes()
        assert uses_index(engine, "m", DIM, matrix[0])
    finally:
        engine.dispose()


def test_a_malformed_stored_vector_stops_the_migration_clearly(postgres_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url)
    try:
        ids = add_papers(engine, 2, clock.now())
        _downgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO paper_embeddings VALUES (:a, 'm', :good), (:b, 'm', :bad)"),
                {"a": ids[0], "b": ids[1], "good": b"\0" * 16, "bad": b"\0" * 5},
            )
        with pytest.raises(StorageError, match=f"paper {ids[1]} has 5 bytes"):
            migrate(engine)
        with engine.connect() as conn:  # nothing half done: still at 0006, bytes kept
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0006"
            kinds = conn.execute(text("SELECT pg_typeof(vector)::text FROM paper_embeddings"))
            assert set(kinds.scalars()) == {"bytea"}
        with writing(engine) as conn:
            conn.execute(text("DELETE FROM paper_embeddings WHERE paper_id = :b"), {"b": ids[1]})
        migrate(engine)
        with engine.connect() as conn:
            assert load_vectors(conn, "m")[1].tobytes() == b"\0" * 16
    finally:
        engine.dispose()


def test_a_role_that_may_not_create_the_extension_is_told_what_to_run(
    postgres_server: str,
) -> None:
    admin = create_engine(
        postgres_server.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS pf_novector WITH (FORCE)"))
        conn.execute(text("DROP ROLE IF EXISTS pf_plain"))
        conn.execute(text("CREATE ROLE pf_plain LOGIN"))
        conn.execute(text("CREATE DATABASE pf_novector OWNER pf_plain TEMPLATE template0"))
    url = make_url(postgres_server).set(username="pf_plain", database="pf_novector")
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(ConfigError, match=r"a superuser must run `CREATE EXTENSION vector;`"):
            migrate(engine)
        # What the message says, run by a superuser: then the migration goes through.
        su = make_engine(str(make_url(postgres_server).set(database="pf_novector")))
        with su.begin() as conn:
            conn.execute(text("CREATE EXTENSION vector"))
        su.dispose()
        migrate(engine)
        with engine.connect() as conn:
            assert pgvector_schema.extension_version(conn) is not None
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS pf_novector WITH (FORCE)"))
            conn.execute(text("DROP ROLE IF EXISTS pf_plain"))
        admin.dispose()


def test_index_status_names_the_backend(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", postgres_url)
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "static")
    monkeypatch.setenv("PAPERFEED_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("PAPERFEED_VECTOR_BACKEND", "database")

    def status() -> str:
        out = CliRunner().invoke(cli, ["index", "status", "--json"], catch_exceptions=False)
        return str(json.loads(out.output)["vector_search"])

    assert status().startswith("pgvector exact")  # no vectors, no index yet
    done = CliRunner().invoke(
        cli, ["ingest", "hf-daily", str(FIXTURES / "hf_daily_papers_api.json"), "--embed"]
    )
    assert done.exit_code == 0, done.output
    assert status() == "pgvector hnsw"
    monkeypatch.setenv("PAPERFEED_VECTOR_BACKEND", "auto")
    assert status() == "exact in memory (pgvector while a serving process loads the vectors)"
    monkeypatch.setenv("PAPERFEED_VECTOR_BACKEND", "memory")
    assert status() == "exact"
    near = CliRunner().invoke(cli, ["similar", "2606.12243", "--limit", "4", "--json"])
    assert json.loads(near.output)["count"] == 4


def test_the_benchmark_runs(postgres_server: str) -> None:
    """bench/pgvector_speed.py stays runnable (shape and sanity only; timings not judged)."""
    bench = Path(__file__).resolve().parents[1] / "bench" / "pgvector_speed.py"
    args = ["--size", "1500", "--queries", "5", "--kinds", "structured", "--json"]
    done = subprocess.run(
        [sys.executable, str(bench), *args, "--url", postgres_server],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout[done.stdout.index("\n[") :])
    assert [r["method"] for r in rows] == ["pgvector hnsw", "memory hnsw", "memory exact"]
    for row in rows:
        assert row["p50_ms"] > 0 and 0.9 <= row["recall@10"] <= 1.0
        assert 0.9 <= row["filtered_recall@10"] <= 1.0
    assert "| structured | pgvector hnsw |" in done.stdout
