"""Embeddings in pgvector on PostgreSQL (a no-op on SQLite).

Creates the ``vector`` extension (or says what an administrator must run), turns
``paper_embeddings.vector`` from little-endian float32 bytes into a pgvector ``vector``
of no fixed dimension, converting every stored vector exactly in one table rewrite, and
builds one HNSW index per stored model (see :mod:`paperfeed.store.pgvector_schema`).
The downgrade drops those indexes and converts the vectors back to the same bytes; the
extension stays installed (the administrator may rely on it, and dropping it needs a
superuser).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.errors import StorageError
from paperfeed.store import pgvector_schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Exact conversions in SQL, so that each direction is one table rewrite (no Python
# round trips, no dead copy of every row left behind). A float32 is rebuilt from its
# sign, exponent and mantissa bits in float8 arithmetic, which is exact (powers of two
# times a 24-bit integer), then cast to real: bit for bit, zeros and subnormals included.
_TO_VECTOR = r"""
CREATE FUNCTION pg_temp.paperfeed_f4le_to_vector(b bytea) RETURNS vector
LANGUAGE sql IMMUTABLE STRICT AS $$
SELECT array_agg(
    CASE WHEN ex = 0 THEN sgn * mant * 2.0::float8 ^ (-149)
         ELSE sgn * (mant + 8388608) * 2.0::float8 ^ (ex - 150) END ORDER BY i
)::real[]::vector
FROM (
    SELECT i,
        CASE WHEN get_byte(b, 4 * i + 3) >= 128 THEN -1.0::float8 ELSE 1.0::float8 END AS sgn,
        ((get_byte(b, 4 * i + 3) & 127) << 1) | (get_byte(b, 4 * i + 2) >> 7) AS ex,
        ((get_byte(b, 4 * i + 2) & 127) << 16) | (get_byte(b, 4 * i + 1) << 8)
            | get_byte(b, 4 * i) AS mant
    FROM generate_series(0, length(b) / 4 - 1) AS i
) AS parts
$$
"""
# pgvector's binary form: int16 dimension, int16 unused, big-endian float32 values.
_TO_BYTES = r"""
CREATE FUNCTION pg_temp.paperfeed_vector_to_f4le(v vector) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
SELECT string_agg(
    substring(s FROM 8 + 4 * i FOR 1) || substring(s FROM 7 + 4 * i FOR 1)
        || substring(s FROM 6 + 4 * i FOR 1) || substring(s FROM 5 + 4 * i FOR 1),
    ''::bytea ORDER BY i
)
FROM (SELECT vector_send(v) AS s) AS sent, generate_series(0, vector_dims(v) - 1) AS i
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    pgvector_schema.ensure_extension(bind)
    bad = bind.execute(
        sa.text(
            "SELECT paper_id, length(vector) FROM paper_embeddings "
            "WHERE length(vector) = 0 OR length(vector) % 4 <> 0 LIMIT 1"
        )
    ).first()
    if bad is not None:
        raise StorageError(
            f"the stored vector of paper {bad[0]} has {bad[1]} bytes, not float32 values: "
            "delete it (`paperfeed index update` makes it again) and migrate again"
        )
    op.execute(_TO_VECTOR)
    op.execute(
        "ALTER TABLE paper_embeddings ALTER COLUMN vector TYPE vector "
        "USING pg_temp.paperfeed_f4le_to_vector(vector)"
    )
    op.execute("DROP FUNCTION pg_temp.paperfeed_f4le_to_vector(bytea)")
    models = bind.execute(
        sa.text(
            "SELECT model, min(vector_dims(vector)), max(vector_dims(vector)), count(*) "
            "FROM paper_embeddings GROUP BY model ORDER BY model"
        )
    ).all()
    for model, low, high, vectors in models:
        if low == high:  # a model with vectors of two lengths is left to `index rebuild`
            # maintenance_work_mem bounds the in-memory graph build; a smaller one still
            # works, only much slower.
            memory = pgvector_schema.build_memory(int(vectors), int(low))
            op.execute(f"SET LOCAL maintenance_work_mem = '{memory}'")
            op.execute(pgvector_schema.create_index_sql(str(model), int(low)))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    names = bind.execute(
        sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'paper_embeddings' AND starts_with(indexname, :prefix)"
        ),
        {"prefix": pgvector_schema.INDEX_PREFIX},
    ).scalars()
    for name in list(names):
        op.execute(f'DROP INDEX IF EXISTS "{name}"')
    op.execute(_TO_BYTES)
    op.execute(
        "ALTER TABLE paper_embeddings ALTER COLUMN vector TYPE bytea "
        "USING pg_temp.paperfeed_vector_to_f4le(vector)"
    )
    op.execute("DROP FUNCTION pg_temp.paperfeed_vector_to_f4le(vector)")
