"""A cheap readiness probe of the database: it answers, quickly, at the code's migration.

One primary-key read of ``alembic_version`` under a short statement timeout (PostgreSQL),
so that a load balancer may poll it every few seconds on a database of millions of papers.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from paperfeed.errors import PaperfeedError, StorageError
from paperfeed.store.migrate import head_revision


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    backend: str
    migration: str | None
    head: str
    latency_ms: float

    @property
    def migrated(self) -> bool:
        return self.migration == self.head

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "migration": self.migration,
            "latency_ms": round(self.latency_ms, 2),
        }


@functools.cache
def _head() -> str:
    return head_revision()  # reads the migration scripts: once per process


def probe(engine: Engine, *, timeout_ms: int = 2000) -> DatabaseHealth:
    """Ask the database its migration; :class:`StorageError` when it does not answer
    (within ``timeout_ms`` on PostgreSQL, once connected)."""
    backend = engine.dialect.name
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
            exists = conn.execute(
                text(
                    "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = 'alembic_version'"
                    if backend == "postgresql"
                    else "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'"
                )
            ).first()
            migration = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if exists
                else None
            )
    except StorageError:
        raise
    except (SQLAlchemyError, PaperfeedError) as exc:
        reason = getattr(exc, "orig", None) or exc
        first = str(reason).strip().splitlines()
        raise StorageError(
            f"the database does not answer: {first[0] if first else type(exc).__name__}"
        ) from exc
    latency = (time.perf_counter() - started) * 1000
    return DatabaseHealth(backend, None if migration is None else str(migration), _head(), latency)


def readiness_error(health: DatabaseHealth) -> str | None:
    """Why a database that answers is not ready to serve, or None."""
    if health.migrated:
        return None
    return (
        f"the database is at migration {health.migration or 'none'}, this paperfeed needs "
        f"{health.head}: run `paperfeed migrate`"
    )
