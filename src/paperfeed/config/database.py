"""Settings of the database: its URL, SQLite's lock wait and PostgreSQL's connection pool."""

from __future__ import annotations

from pydantic import BaseModel, Field

DEFAULT_DATABASE_URL = "sqlite:///data/paperfeed.db"


class DatabaseSettings(BaseModel):
    """Database"""

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the database: a SQLite file (the default, relative to "
        "the working directory) or postgresql://user:pass@host/db.",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a SQLite writer waits for a lock before failing (ms)."
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        description="PostgreSQL: connections each process keeps open in its pool (a server "
        "worker needs about PAPERFEED_SERVER_THREADS).",
    )
    db_max_overflow: int = Field(
        10,
        ge=0,
        description="PostgreSQL: extra connections a process may open above the pool size "
        "under load (closed again when returned).",
    )
    db_pool_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="PostgreSQL: how long a request waits for a free pooled connection "
        "before failing with 503.",
    )
    db_pool_recycle_seconds: int = Field(
        1800,
        ge=0,
        description="PostgreSQL: pooled connections older than this are reopened (outlives "
        "idle timeouts of proxies and firewalls); 0: never.",
    )
    db_connect_timeout_seconds: int = Field(
        10,
        ge=1,
        description="PostgreSQL: how long opening a connection may take before the server "
        "counts as unreachable (503 on the web, exit code 6 on the command line).",
    )
    db_statement_timeout_ms: int = Field(
        30_000,
        ge=0,
        description="PostgreSQL: the web server's statements running longer are cancelled and "
        "the request answered 503 (the server's `statement_timeout`); 0: no limit. Commands "
        "(migrations, index rebuilds, copies, ingestion) run without one.",
    )
