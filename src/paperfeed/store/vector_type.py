"""The embedding column type: float32 bytes in Python on both databases.

On SQLite an embedding is a BLOB of little-endian float32 values. On PostgreSQL it is
a pgvector ``vector`` (of no fixed dimension, so one column holds every model's
vectors; the HNSW indexes cast to each model's dimension, see
:mod:`paperfeed.index.vectors.pgvector_index`). Python code sees the same ``bytes`` either way:
values are sent as pgvector text (every float32 printed exactly) and read back in
pgvector's binary form (``vector_send``), so a vector round-trips bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import LargeBinary, cast, func
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

_LITTLE = np.dtype("<f4")
_BIG = np.dtype(">f4")


class PgVector(UserDefinedType[bytes]):
    """pgvector's ``vector`` with no fixed dimension (PostgreSQL only)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "vector"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return cast(bindvalue, self)

    def column_expression(self, colexpr: Any) -> ColumnElement[Any]:
        return func.vector_send(colexpr, type_=self)

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else to_text(bytes(value))

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else from_send(bytes(value))

        return process


# Reflection (Alembic's comparisons) knows the type by name.
ischema_names.setdefault("vector", PgVector)


def to_text(blob: bytes) -> str:
    """Little-endian float32 bytes as pgvector text input (exact: each value's repr)."""
    values = np.frombuffer(blob, dtype=_LITTLE)
    return "[" + ",".join(map(repr, values.tolist())) + "]"


def to_binary(blob: bytes) -> bytes:
    """Little-endian float32 bytes as pgvector's binary input (``vector_recv``: int16 dim,
    int16 unused, big-endian float32s), what a binary COPY sends; exact, and a few hundred
    times cheaper than :func:`to_text`."""
    values = np.frombuffer(blob, dtype=_LITTLE)
    return len(values).to_bytes(2, "big") + b"\0\0" + values.astype(_BIG).tobytes()


def from_send(data: bytes) -> bytes:
    """pgvector's binary form (int16 dim, int16 unused, big-endian float32s) as
    little-endian float32 bytes."""
    dim = int.from_bytes(data[:2], "big")
    if len(data) != 4 + 4 * dim:
        raise ValueError(f"a {dim}-dim pgvector takes {4 + 4 * dim} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=_BIG, offset=4).astype(_LITTLE).tobytes()


class Embedding(TypeDecorator[bytes]):
    """Float32 vector bytes: a BLOB on SQLite, a pgvector ``vector`` on PostgreSQL."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PgVector())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)
