"""Connection pooling and timeouts from the settings: they reach the engines the app and
the CLI build; a statement over the timeout, or no free connection, is a 503 envelope."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from paperfeed.cli.base import Context
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.errors import StorageError
from paperfeed.store.engine import EngineOptions, make_engine

POOL = {
    "db_pool_size": 3,
    "db_max_overflow": 2,
    "db_pool_timeout_seconds": 1.5,
    "db_pool_recycle_seconds": 60,
    "db_connect_timeout_seconds": 4,
    "db_statement_timeout_ms": 1234,
}


@pytest.mark.postgres
def test_pool_and_timeouts_reach_the_app_and_cli_engines(postgres_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=postgres_url, index_dir=str(tmp_path), **POOL)
    app = create_app(settings)
    engine = app.state.hub.engine
    pool = engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (3, 2, 1.5, 60)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
        params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert params["connect_timeout"] == "4"
    engine.dispose()

    cli_engine = Context(settings).engine()
    assert cli_engine.pool.size() == 3
    with cli_engine.connect() as conn:  # commands run long statements: no timeout
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
    cli_engine.dispose()


def test_recycle_zero_means_never_and_defaults_are_sane() -> None:
    settings = load_settings(db_pool_recycle_seconds=0)
    options = EngineOptions.from_settings(settings)
    engine = make_engine("postgresql://pf@127.0.0.1:9/pf", options=options)
    assert engine.pool._recycle == -1  # type: ignore[attr-defined]
    assert EngineOptions.from_settings(load_settings()).statement_timeout_ms == 30_000
    assert EngineOptions.from_settings(settings, statement_timeout=False).statement_timeout_ms == 0


@pytest.mark.postgres
def test_a_statement_over_the_timeout_is_a_storage_error(postgres_url: str) -> None:
    engine = make_engine(postgres_url, options=EngineOptions(statement_timeout_ms=200))
    with (
        pytest.raises(StorageError, match=r"ran too long.*STATEMENT_TIMEOUT_MS=200"),
        engine.connect() as conn,
    ):
        conn.execute(text("SELECT pg_sleep(3)"))
    with engine.connect() as conn:  # the pool is still good
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


@pytest.mark.postgres
def test_a_slow_request_and_a_full_pool_are_503_envelopes(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=postgres_url,
        index_dir=str(tmp_path),
        db_statement_timeout_ms=300,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=0.3,
    )
    locker = create_engine(make_engine(postgres_url).url)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/daily_papers").status_code == 200
        with locker.connect() as conn:  # the papers' table is locked: reads wait on it
            conn.execute(text("LOCK TABLE papers IN ACCESS EXCLUSIVE MODE"))
            # A day not asked before, so no cached answer stands in for the database.
            slow = client.get("/api/daily_papers", params={"date": "2026-11-19"})
            conn.rollback()
        assert slow.status_code == 503, slow.text
        assert slow.json() == {
            "ok": False,
            "status": 503,
            "error": slow.json()["error"],
        }
        assert "ran too long" in slow.json()["error"]

        engine = client.app.state.hub.engine  # type: ignore[attr-defined]
        held = engine.connect()  # the pool's only connection
        try:
            busy = client.get("/api/daily_papers", params={"date": "2026-11-20"})
        finally:
            held.close()
        assert busy.status_code == 503, busy.text
        assert "no database connection free" in busy.json()["error"]
        assert client.get("/api/daily_papers").status_code == 200
    locker.dispose()


def test_an_unreachable_postgres_is_a_storage_error() -> None:
    engine = make_engine(
        "postgresql://pf@127.0.0.1:9/pf", options=EngineOptions(connect_timeout_seconds=2)
    )
    with pytest.raises(StorageError, match="does not answer"), engine.connect():
        pass
    engine.dispose()
