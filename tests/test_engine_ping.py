"""A pooled PostgreSQL connection is pinged only after sitting idle, and a dead one is replaced.

What the server last saw from a connection's backend (``pg_stat_activity.query``, read on
a second connection) tells whether the pool pinged it on checkout: the ping (psycopg's
empty statement ``;``) after a ping, else the ``ROLLBACK`` that returned it to the pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from paperfeed.store import engine as engine_module
from paperfeed.store.engine import EngineOptions, make_engine

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pool_of_one(postgres_url: str) -> Iterator[Engine]:
    """An engine whose pool holds one connection, so each checkout gets the same one."""
    engine = make_engine(postgres_url, options=EngineOptions(pool_size=1, max_overflow=0))
    yield engine
    engine.dispose()


@pytest.fixture
def admin(postgres_server: str) -> Iterator[Engine]:
    engine = create_engine(
        postgres_server.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    yield engine
    engine.dispose()


def _last_statement(admin: Engine, pid: int) -> str:
    with admin.connect() as conn:
        found = conn.execute(
            text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one()
    return str(found).strip().upper()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(
    pool_of_one: Engine, admin: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window no busy machine outlasts between the two checkouts (the default is 1 s).
    monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 30.0)
    pid = _backend(pool_of_one)  # returned with a ROLLBACK
    assert _last_statement(admin, pid) == "ROLLBACK"
    with pool_of_one.connect() as conn:  # within the window: handed out as it is
        assert _last_statement(admin, pid) == "ROLLBACK"
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid


def test_an_idle_connection_is_pinged_before_use(
    pool_of_one: Engine, admin: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.2)
    pid = _backend(pool_of_one)
    time.sleep(0.3)
    with pool_of_one.connect() as conn:
        assert _last_statement(admin, pid) == ";"  # the ping, nothing else yet
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid


def test_an_idle_connection_the_server_dropped_is_replaced_unseen(
    pool_of_one: Engine, admin: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.2)
    pid = _backend(pool_of_one)
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    time.sleep(0.3)
    with pool_of_one.connect() as conn:  # the ping finds it gone: a new one, no error
        assert conn.execute(text("SELECT 41 + 1")).scalar_one() == 42
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
