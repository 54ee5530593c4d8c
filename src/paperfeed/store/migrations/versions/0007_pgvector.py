"""Embeddings in pgvector on PostgreSQL (a no-op on SQLite).

Creates the ``vector`` extension (or says what an administrator must run), turns
``paper_embeddings.vector`` from float32 bytes into a pgvector ``vector`` of no fixed
dimension, converting every stored vector exactly, and builds one HNSW index per
stored model (see :mod:`paperfeed.store.pgvector_schema`). The downgrade converts the
vectors back to bytes and drops those indexes; the extension stays installed (other
databases' objects or the administrator may rely on it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store import pgvector_schema
from paperfeed.store.vector_type import PgVector, from_send, to_text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Vectors converted per round trip (about 6 MB of 384-dim vectors as text).
_CHUNK = 1_000


def _convert(select_sql: str, update_sql: str, convert: object) -> None:
    """Copy every row's vector into the new column, chunk by chunk in paper_id order."""
    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(sa.text(select_sql), {"last": last, "limit": _CHUNK}).all()
        if not rows:
            return
        assert callable(convert)
        bind.execute(
            sa.text(update_sql),
            [{"id": int(pid), "value": convert(bytes(value))} for pid, value in rows],
        )
        last = int(rows[-1][0])


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    pgvector_schema.ensure_extension(bind)
    op.add_column("paper_embeddings", sa.Column("embedding", PgVector(), nullable=True))
    _convert(
        "SELECT paper_id, vector FROM paper_embeddings WHERE paper_id > :last "
        "ORDER BY paper_id LIMIT :limit",
        "UPDATE paper_embeddings SET embedding = CAST(:value AS vector) WHERE paper_id = :id",
        _checked_text,
    )
    op.alter_column("paper_embeddings", "embedding", nullable=False)
    op.drop_column("paper_embeddings", "vector")
    op.alter_column("paper_embeddings", "embedding", new_column_name="vector")
    models = bind.execute(
        sa.text(
            "SELECT model, min(vector_dims(vector)), max(vector_dims(vector)) "
            "FROM paper_embeddings GROUP BY model ORDER BY model"
        )
    ).all()
    # maintenance_work_mem bounds the in-memory graph build (about 1 GB per million
    # 384-dim vectors); a smaller one still works, only slower.
    op.execute("SET LOCAL maintenance_work_mem = '1GB'")
    for model, low, high in models:
        if low == high:  # a model with vectors of two lengths is left to `index rebuild`
            op.execute(pgvector_schema.create_index_sql(str(model), int(low)))


def _checked_text(blob: bytes) -> str:
    if len(blob) == 0 or len(blob) % 4:
        raise ValueError(f"a stored vector of {len(blob)} bytes is not float32 values")
    return to_text(blob)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    names = bind.execute(
        sa.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'paper_embeddings' "
            "AND indexname LIKE :prefix"
        ),
        {"prefix": pgvector_schema.INDEX_PREFIX.replace("_", r"\_") + "%"},
    ).scalars()
    for name in list(names):
        op.execute(f'DROP INDEX IF EXISTS "{name}"')
    op.add_column("paper_embeddings", sa.Column("blob", sa.LargeBinary(), nullable=True))
    _convert(
        "SELECT paper_id, vector_send(vector) FROM paper_embeddings WHERE paper_id > :last "
        "ORDER BY paper_id LIMIT :limit",
        "UPDATE paper_embeddings SET blob = :value WHERE paper_id = :id",
        from_send,
    )
    op.alter_column("paper_embeddings", "blob", nullable=False)
    op.drop_column("paper_embeddings", "vector")
    op.alter_column("paper_embeddings", "blob", new_column_name="vector")
