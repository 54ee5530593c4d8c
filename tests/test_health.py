"""/healthz as a readiness check: the database answers, at the code's migration, cheaply;
a database that is stopped, unreadable or behind the code gives a 503 envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import head_revision


def _client(url: str, tmp_path: Path) -> TestClient:
    settings = load_settings(database_url=url, index_dir=str(tmp_path / "index"))
    return TestClient(create_app(settings))


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with _client(db_url, tmp_path) as test_client:
        yield test_client


def test_healthz_reports_backend_migration_and_latency(client: TestClient, db_url: str) -> None:
    statements: list[str] = []
    engine = client.app.state.hub.engine  # type: ignore[attr-defined]

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    expected = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    assert body["database"]["backend"] == expected
    assert body["database"]["migration"] == head_revision()
    assert 0 <= body["database"]["latency_ms"] < 5000
    # Cheap to poll: it reads the migration, never scans the papers.
    assert statements and not any("papers" in s or "count(" in s.lower() for s in statements)


def test_healthz_says_to_migrate_when_the_schema_is_behind(client: TestClient, db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    engine.dispose()
    answer = client.get("/healthz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["ok"] is False and body["status"] == 503
    assert "0005" in body["error"] and "paperfeed migrate" in body["error"]


@pytest.mark.postgres
def test_a_stopped_postgres_gives_503_envelopes(
    postgres_url: str, postgres_server: str, tmp_path: Path
) -> None:
    name = postgres_url.rsplit("/", 1)[1].split("?")[0]
    admin = create_engine(
        postgres_server.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with _client(postgres_url, tmp_path) as client:
        assert client.get("/healthz").status_code == 200
        with admin.connect() as conn:  # no new connections, and the open ones are cut
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        try:
            answer = client.get("/healthz")
            assert answer.status_code == 503
            assert answer.headers["content-type"].startswith("application/json")
            body = answer.json()
            assert body["ok"] is False and "does not answer" in body["error"]
            listed = client.get("/api/daily_papers")
            assert listed.status_code == 503, listed.text
            assert listed.json()["ok"] is False
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        assert client.get("/healthz").status_code == 200  # and back once it is
    admin.dispose()


def test_an_unreadable_sqlite_file_gives_a_503_envelope(sqlite_url: str, tmp_path: Path) -> None:
    with _client(sqlite_url, tmp_path) as client:
        assert client.get("/healthz").status_code == 200
        path = Path(sqlite_url.removeprefix("sqlite:///"))
        client.app.state.hub.engine.dispose()  # type: ignore[attr-defined]
        for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        path.write_bytes(b"this is not a database " * 512)
        answer = client.get("/healthz")
        assert answer.status_code == 503
        assert "does not answer" in answer.json()["error"]
