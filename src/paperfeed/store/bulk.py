"""Fast bulk inserts: the hot path of ingestion, and its dialect-specific parts.

SQLAlchemy's per-row parameter processing costs more than SQLite itself when
hundreds of thousands of rows go in, so batches are written with the DBAPI's
own ``executemany`` on the same connection (same transaction), with values
converted by SQLAlchemy's own bind processors so the stored format is exactly
what the Core queries read back.

New paper ids are allocated up front: on SQLite from ``MAX(id)`` (safe because
a write transaction holds the database's write lock), on PostgreSQL from the
table's sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Enum,
    Integer,
    SmallInteger,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from paperfeed.store.types import UTCDateTime
from paperfeed.store.vector_type import Embedding, to_binary

_Processor = Callable[[Any], Any] | None
_UNSET = object()


@lru_cache(maxsize=64)
def _statement(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[str, ...] | None, tuple[_Processor, ...]]:
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    processors = tuple(_processor(table.c[name].type, dialect) for name in columns)
    order = tuple(compiled.positiontup) if compiled.positiontup else None
    return compiled.string, order, processors


def _sqlite_utc(value: datetime | None) -> str | None:
    """What ``UTCDateTime`` stores on SQLite (SQLAlchemy's DATETIME text), three times faster."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> _Processor:
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _sqlite_utc
    return type_._cached_bind_processor(dialect)


def insert_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT ``rows`` (tuples of ``columns``, in the table's column order) with one executemany."""
    if not rows:
        return
    sql, order, processors = _statement(table, columns, conn.dialect)
    if order is not None and order != columns:
        raise ValueError(f"columns of {table.name} must be given in table order: {order}")
    convert = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    converted: list[Any] = list(rows)
    if convert:
        # Rows of a batch often share a value (the batch's time): convert it once.
        last: list[tuple[object, object]] = [(_UNSET, None)] * len(convert)
        for r, values in enumerate(converted):
            out = list(values)
            for k, (i, proc) in enumerate(convert):
                value = out[i]
                seen, result = last[k]
                if value is not seen:
                    result = proc(value)
                    last[k] = (value, result)
                out[i] = result
            converted[r] = out
    if order is None:  # a named-parameter driver (psycopg)
        converted = [dict(zip(columns, values, strict=True)) for values in converted]
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, converted)
    finally:
        cursor.close()


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Reserve ``count`` new values of ``table.id`` inside the current write transaction."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
        ).scalar_one()
        return list(
            conn.execute(
                text("SELECT nextval(:s) FROM generate_series(1, :n)"),
                {"s": sequence, "n": count},
            ).scalars()
        )
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(start) + 1, int(start) + 1 + count))


def _binary_copy_type(type_: TypeEngine[Any]) -> str | None:
    """The type a binary COPY sends a column's values as (the server reads them with the
    column's own receive function), or None for a column only text COPY takes here."""
    if isinstance(type_, Embedding):
        return "bytea"  # bytes already in pgvector's binary form (vector_type.to_binary)
    if isinstance(type_, Integer) and not isinstance(type_, BigInteger | SmallInteger):
        return "int4"
    if isinstance(type_, String) and not isinstance(type_, Enum):
        return "text"
    return None


def copy_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (every column of ``table`` by name) with PostgreSQL's ``COPY ... FROM
    STDIN`` in the current transaction: one stream instead of a statement per few rows.
    Values go through their column's bind processor first, as an INSERT would send them
    (JSON as its text, a time in UTC), so the stored values are the same. A table of
    integers, strings and vectors (the embeddings) goes in COPY's binary form, vectors in
    pgvector's (formatting 384 floats as exact text costs a third of a millisecond or
    more a vector); the others in its text form. A refused row raises the driver's error
    as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`, as ``execute`` would."""
    import psycopg

    if not rows:
        return
    names = [c.name for c in table.columns]
    binary = [_binary_copy_type(c.type) for c in table.columns]
    if all(binary):
        processors: list[_Processor] = [
            (lambda v: None if v is None else to_binary(bytes(v)))
            if isinstance(c.type, Embedding)
            else None
            for c in table.columns
        ]
        how = " (FORMAT BINARY)"
    else:
        processors = [_processor(c.type, conn.dialect) for c in table.columns]
        how = ""
    columns = ", ".join(f'"{name}"' for name in names)
    sql = f'COPY "{table.name}" ({columns}) FROM STDIN{how}'
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as stream:
            if how:
                stream.set_types(binary)
            for row in rows:
                stream.write_row(
                    [
                        row[name] if proc is None else proc(row[name])
                        for name, proc in zip(names, processors, strict=True)
                    ]
                )
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc
    finally:
        cursor.close()
