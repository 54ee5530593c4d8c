"""pgvector on PostgreSQL: the extension and the per-model HNSW indexes (DDL only).

``paper_embeddings.vector`` is a pgvector ``vector`` of no fixed dimension (see
:mod:`paperfeed.store.vector_type`), so one column holds every model's vectors. An
HNSW index needs one dimension, so each model gets its own partial expression index::

    CREATE INDEX ix_paper_embeddings_hnsw_<hash> ON paper_embeddings
        USING hnsw ((vector::vector(384)) vector_ip_ops) WITH (m = 16, ef_construction = 64)
        WHERE model = 'minilm-l6-int8'

Vectors are unit length, so inner product orders exactly as cosine similarity and
costs less. A query uses the index only when it orders by the same expression and
names the model as a literal (a partial index's predicate must be provable when the
query is planned): :func:`model_literal` renders it.

Used by migration 0007 (the indexes of the models already stored) and by
:mod:`paperfeed.index.vectors.pgvector_index` (a model's index once its dimension is known).
"""

from __future__ import annotations

import hashlib
import math

from sqlalchemy import Connection, text

from paperfeed.errors import ConfigError

#: HNSW graph parameters (pgvector's defaults: 16 links a node, 64 candidates when building).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
#: Oldest pgvector with HNSW indexes; iterative index scans (filters that still give
#: ``k`` results) need 0.8.0.
MIN_VERSION = (0, 5, 0)
ITERATIVE_SCAN_VERSION = (0, 8, 0)
#: The prefix of every per-model HNSW index's name.
INDEX_PREFIX = "ix_paper_embeddings_hnsw_"


def model_literal(model: str) -> str:
    """The model name as an SQL string literal (standard-conforming quoting)."""
    if "\x00" in model:
        raise ValueError("a model name cannot contain NUL")
    return "'" + model.replace("'", "''") + "'"


def index_name(model: str, dim: int) -> str:
    """The HNSW index of ``model`` at ``dim`` dimensions (at most 63 characters)."""
    digest = hashlib.sha256(f"{model}\x00{int(dim)}".encode()).hexdigest()[:20]
    return f"{INDEX_PREFIX}{digest}"


def vector_expression(dim: int) -> str:
    """The indexed expression: the column cast to the model's dimension."""
    return f"(vector::vector({int(dim)}))"


def create_index_sql(model: str, dim: int, *, concurrently: bool = False) -> str:
    """``CREATE INDEX`` of the model's HNSW index (IF NOT EXISTS)."""
    if not 0 < int(dim) <= 2000:
        raise ConfigError(f"pgvector's HNSW indexes take 1 to 2,000 dimensions, not {dim}")
    how = "CONCURRENTLY " if concurrently else ""
    return (
        f"CREATE INDEX {how}IF NOT EXISTS {index_name(model, dim)} ON paper_embeddings "
        f"USING hnsw ({vector_expression(dim)} vector_ip_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
        f"WHERE model = {model_literal(model)}"
    )


def build_memory(vectors: int, dim: int, *, floor_mb: int = 64) -> str:
    """``maintenance_work_mem`` for building an HNSW index over ``vectors`` vectors.

    pgvector builds the graph in memory while it fits and on disk after that, "significantly"
    slower (its docs; at a million 384-dim vectors many times so). Each node holds its
    vector (4 bytes a dimension, 8 of header), ``2 m`` layer-0 neighbours (16 bytes each)
    and some bookkeeping: about 2.3 GB per million 384-dim vectors with a tenth to spare.
    PostgreSQL takes that much only as the graph grows; never less than ``floor_mb`` (its
    own default).
    """
    per_vector = 4 * int(dim) + 8 + 2 * HNSW_M * 16 + 200
    megabytes = math.ceil(max(0, int(vectors)) * per_vector * 1.1 / 2**20)
    return f"{max(floor_mb, megabytes)}MB"


def parse_version(value: str) -> tuple[int, ...]:
    """``"0.8.6"`` as (0, 8, 6); unparsable parts count as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in value.split(".")[:3])


def extension_version(conn: Connection) -> tuple[int, ...] | None:
    """The installed pgvector version in this database, or None."""
    value = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    ).scalar_one_or_none()
    return None if value is None else parse_version(str(value))


def ensure_extension(conn: Connection) -> tuple[int, ...]:
    """Create the ``vector`` extension unless present; a clear error when that is not possible.

    Runs in the caller's transaction (inside a savepoint, so a refusal leaves it usable).
    """
    version = extension_version(conn)
    database, role = conn.execute(text("SELECT current_database(), current_user")).one()
    if version is None:
        available = conn.execute(
            text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
        ).scalar_one_or_none()
        if available is None:
            raise ConfigError(
                "this PostgreSQL server has no pgvector extension installed: install pgvector "
                "(0.8 or later, e.g. the postgresql-NN-pgvector package) on the server, then "
                "run `paperfeed migrate` again"
            )
        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except Exception as exc:  # insufficient privilege, most often
            raise ConfigError(
                f"the database role {role!r} may not create the pgvector extension "
                f"({type(exc).__name__}): a superuser must run `CREATE EXTENSION vector;` "
                f"in database {database!r}, then run `paperfeed migrate` again"
            ) from exc
        version = extension_version(conn) or parse_version(str(available))
    if version < MIN_VERSION:
        raise ConfigError(
            f"pgvector {'.'.join(map(str, version))} in database {database!r} has no HNSW "
            "indexes: a superuser must run `ALTER EXTENSION vector UPDATE;` (0.8 or later "
            "installed on the server), then run `paperfeed migrate` again"
        )
    return version
