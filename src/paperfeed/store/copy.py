"""Copy a whole deployment from one database to another (SQLite and PostgreSQL, either way).

:func:`copy_database` migrates the target to the newest revision, then copies every table
of the schema in foreign-key order, in primary-key order, ``batch_size`` rows per target
transaction (on PostgreSQL sent with ``COPY ... FROM STDIN``), keeping ids; PostgreSQL's
id sequences are moved past the copied ids.
Progress lives in the target, in the table ``paperfeed_copy`` (one row per table: rows
copied and the last primary key), written in the same transaction as each batch, so a
copy that was killed resumes where its last commit left off and never copies a row twice.
Each table is then verified by row count and an order-independent checksum
(:mod:`paperfeed.store.checksum`) on both sides.

Not copied: what is derived from the copied rows, namely the engine's own full-text
table (SQLite FTS5 / PostgreSQL tsvector, rebuilt by the ``finish`` hook the caller passes
in), pgvector's HNSW indexes (built here after the rows, one per stored model), and the
index files outside the database (the tantivy word index and the in-memory HNSW graph
under PAPERFEED_INDEX_DIR), which are rebuilt from the database on first use as always.

Which start a copy makes, and what it reports, is decided in :mod:`paperfeed.store.copy_plan`
(pure); this module does the I/O.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    inspect,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from paperfeed.errors import InvalidInputError, StorageError
from paperfeed.store import pgvector_schema
from paperfeed.store.bulk import copy_rows
from paperfeed.store.checksum import TableDigest, table_digest
from paperfeed.store.copy_plan import CopyReport, Start, TableReport, copied_tables, decide_start
from paperfeed.store.engine import writing
from paperfeed.store.interruption import Interruption
from paperfeed.store.migrate import current_revision, head_revision, migrate
from paperfeed.store.types import UTCDateTime

#: The bookkeeping table in the target (not part of the schema; not copied).
PROGRESS_TABLE = "paperfeed_copy"
#: The progress row that names the source and says when the copy finished.
_RUN = "*"

_progress_meta = MetaData()
progress = Table(
    PROGRESS_TABLE,
    _progress_meta,
    # A table's name, or "*" for the copy as a whole.
    Column("name", String(64), primary_key=True),
    Column("source", String(1000), nullable=False),
    Column("rows", Integer, nullable=False, default=0),
    # The primary key of the last row copied (a JSON list), NULL before the first batch.
    Column("last_key", JSON, nullable=True),
    Column("done", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime(), nullable=False),
)

#: (table, rows copied so far, rows in the source table)
ProgressFn = Callable[[str, int, int], None]


def copy_database(
    source: Engine,
    target: Engine,
    *,
    source_id: str,
    batch_size: int = 2000,
    force: bool = False,
    on_progress: ProgressFn | None = None,
    finish: Callable[[Connection], None] | None = None,
) -> CopyReport:
    """Copy ``source`` into ``target`` (see the module docstring); ``finish`` runs in one
    target transaction after the rows are in (the caller's derived-index rebuild).

    Ctrl-C raises KeyboardInterrupt once the batch in flight is rolled back (a statement
    waiting in PostgreSQL is cancelled, see :mod:`paperfeed.store.interruption`)."""
    with Interruption(source, target) as interruption:
        return _copy(
            source, target, source_id, batch_size, force, on_progress, finish, interruption.check
        )


def _copy(
    source: Engine,
    target: Engine,
    source_id: str,
    batch_size: int,
    force: bool,
    on_progress: ProgressFn | None,
    finish: Callable[[Connection], None] | None,
    checkpoint: Callable[[], None],
) -> CopyReport:
    if batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    started = clock.monotonic()
    try:
        _check_source(source)
    except StorageError as exc:
        raise StorageError(f"source: {exc}") from exc
    tables = copied_tables(source.dialect.name, target.dialect.name)
    try:
        # Decided before migrating: a target that must be refused is left untouched.
        start = _start(target, tables, source_id, force)
        migrate(target)
    except StorageError as exc:
        raise StorageError(f"target: {exc}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"target: cannot open the database: {exc}") from exc
    if start is Start.REPLACE:
        _empty(target, tables)
    report = CopyReport(start)
    with writing(target) as conn:
        _progress_meta.create_all(conn)
        _claim(conn, source_id)
    mark = clock.monotonic()
    if start is not Start.DONE:
        for table in tables:
            report.copied_rows += _copy_table(
                source, target, table, source_id, batch_size, on_progress, checkpoint
            )
        report.phases["copy"] = clock.monotonic() - mark
        mark = clock.monotonic()
        with writing(target) as conn:
            if target.dialect.name == "postgresql":
                _reset_sequences(conn, tables)
                _index_vectors(conn)
            if finish is not None:
                finish(conn)
        report.phases["finish"] = clock.monotonic() - mark
    mark = clock.monotonic()
    report.tables = verify(source, target, tables)
    report.phases["verify"] = clock.monotonic() - mark
    if report.ok:
        with writing(target) as conn:
            _mark(conn, _RUN, done=1)
    report.seconds = clock.monotonic() - started
    return report


def verify(source: Engine, target: Engine, tables: Sequence[Table]) -> list[TableReport]:
    """Row counts and checksums of each table on both sides. The two sides of a table are
    summed at once, the source's on a thread of its own, so that reading one database
    (and a PostgreSQL server's own work) overlaps with summing the other's rows; an
    interrupt stops that thread within a few thousand rows."""
    stop = threading.Event()

    def halt() -> None:
        if stop.is_set():
            raise _Stopped

    def digest(engine: Engine, table: Table, check: Callable[[], None] | None) -> TableDigest:
        with engine.connect() as conn:
            return table_digest(conn, table, check)

    reports = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-verify") as pool:
        try:
            for table in tables:
                left = pool.submit(digest, source, table, halt)
                right = digest(target, table, None)
                reports.append(TableReport(table.name, right.rows, left.result(), right))
        except BaseException:
            stop.set()  # the source's sum stops too, before the pool is left
            raise
    return reports


class _Stopped(Exception):
    """The source's sum stopped because the target's failed or was interrupted."""


def _check_source(source: Engine) -> None:
    revision = current_revision(source)
    if revision is None:
        raise InvalidInputError("the source database holds no paperfeed schema")
    if revision != head_revision():
        raise StorageError(
            f"the source database is at migration {revision}, this paperfeed at "
            f"{head_revision()}: run `paperfeed migrate` on the source first"
        )


def _start(target: Engine, tables: Sequence[Table], source_id: str, force: bool) -> Start:
    with target.connect() as conn:
        recorded: str | None = None
        finished = False
        if inspect(conn).has_table(PROGRESS_TABLE):
            row = conn.execute(
                select(progress.c.source, progress.c.done).where(progress.c.name == _RUN)
            ).first()
            if row is not None:
                recorded, finished = row.source, bool(row.done)
        existing = set(inspect(conn).get_table_names())
        has_rows = any(
            conn.execute(select(1).select_from(t).limit(1)).first() is not None
            for t in tables
            if t.name in existing
        )
    return decide_start(
        recorded_source=recorded,
        finished=finished,
        has_rows=has_rows,
        source=source_id,
        force=force,
    )


def _empty(target: Engine, tables: Sequence[Table]) -> None:
    with writing(target) as conn:
        if target.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(delete(table))
        _progress_meta.drop_all(conn, checkfirst=True)


def _claim(conn: Connection, source_id: str) -> None:
    if conn.execute(select(progress.c.name).where(progress.c.name == _RUN)).first() is None:
        conn.execute(
            progress.insert().values(name=_RUN, source=source_id, updated_at=datetime.now(UTC))
        )


def _mark(conn: Connection, name: str, **values: Any) -> None:
    conn.execute(
        progress.update()
        .where(progress.c.name == name)
        .values(updated_at=datetime.now(UTC), **values)
    )


def _state(target: Engine, table: Table, source_id: str) -> tuple[int, list[Any] | None, bool]:
    with writing(target) as conn:
        row = conn.execute(
            select(progress.c.rows, progress.c.last_key, progress.c.done).where(
                progress.c.name == table.name
            )
        ).first()
        if row is None:
            conn.execute(
                progress.insert().values(
                    name=table.name, source=source_id, rows=0, updated_at=datetime.now(UTC)
                )
            )
            return 0, None, False
    return int(row.rows), row.last_key, bool(row.done)


def _copy_table(
    source: Engine,
    target: Engine,
    table: Table,
    source_id: str,
    batch_size: int,
    on_progress: ProgressFn | None,
    checkpoint: Callable[[], None],
) -> int:
    """Copy the rows of ``table`` not yet copied; returns how many this call copied.
    ``checkpoint`` runs after each committed batch (where a Ctrl-C may stop the copy)."""
    rows, last_key, done = _state(target, table, source_id)
    if done:
        return 0
    key = list(table.primary_key.columns)
    with source.connect() as src:
        total = int(src.execute(select(func.count()).select_from(table)).scalar_one())
        query = select(*table.columns).order_by(*key)
        if last_key is not None:
            if len(key) == 1:
                query = query.where(key[0] > last_key[0])
            else:
                query = query.where(tuple_(*key) > tuple_(*last_key))
        if on_progress is not None:
            on_progress(table.name, rows, total)
        result = src.execution_options(stream_results=True, yield_per=batch_size).execute(query)
        names = [c.name for c in table.columns]
        copied = 0
        for batch in result.partitions(batch_size):
            values = [dict(zip(names, row, strict=True)) for row in batch]
            last = [getattr(batch[-1], c.name) for c in key]
            _write_batch(target, table, values, last, rows + copied + len(values))
            copied += len(values)
            if on_progress is not None:
                on_progress(table.name, rows + copied, total)
            checkpoint()
    with writing(target) as conn:
        _mark(conn, table.name, done=1)
    return copied


def row_name(table: Table, row: dict[str, Any]) -> str:
    """A row as an operator finds it again: ``rate_events id=2``. Pure."""
    key = ", ".join(f"{c.name}={row[c.name]!r}" for c in table.primary_key.columns)
    return f"{table.name} {key.replace(chr(39), '')}"


def nul_cell(table: Table, values: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], str] | None:
    """The first row and column of ``values`` whose text holds a NUL, which PostgreSQL
    cannot store (an older paperfeed let it into SQLite). Pure."""
    for row in values:
        for name, value in row.items():
            if isinstance(value, str) and "\x00" in value:
                return row, name
    return None


def _refused_row(target: Engine, table: Table, values: list[dict[str, Any]]) -> str | None:
    """The first row the target refuses on its own (tried one by one, all rolled back)."""
    with target.connect() as conn, conn.begin() as outer:
        for row in values:
            try:
                with conn.begin_nested():
                    conn.execute(table.insert(), [row])
            except (DBAPIError, InvalidInputError):
                outer.rollback()
                return row_name(table, row)
        outer.rollback()
    return None


def _write_batch(
    target: Engine, table: Table, values: list[dict[str, Any]], last: list[Any], rows: int
) -> None:
    if target.dialect.name == "postgresql" and (found := nul_cell(table, values)) is not None:
        row, column = found
        raise StorageError(
            f"cannot copy the row {row_name(table, row)}: its {column} holds a NUL character, "
            "which PostgreSQL cannot store; remove it in the source and run the copy again"
        )
    try:
        with writing(target) as conn:
            if target.dialect.name == "postgresql":
                copy_rows(conn, table, values)
            else:
                conn.execute(table.insert(), values)
            _mark(conn, table.name, rows=rows, last_key=last)
    except OperationalError as exc:
        raise StorageError(
            f"writing {table.name} to the target failed: {_first_line(exc)}"
        ) from exc
    except DBAPIError as exc:
        first = [values[0][c.name] for c in table.primary_key.columns]
        culprit = _refused_row(target, table, values)
        which = (
            f"the row {culprit}" if culprit else f"rows of {table.name} (keys {first} to {last})"
        )
        raise StorageError(f"the target refused {which}: {_first_line(exc)}") from exc


def _first_line(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def _index_vectors(conn: Connection) -> None:
    """pgvector's HNSW index of each stored model, as migration 0007 builds them."""
    models = conn.execute(
        text(
            "SELECT model, min(vector_dims(vector)), max(vector_dims(vector)), count(*) "
            "FROM paper_embeddings GROUP BY model ORDER BY model"
        )
    ).all()
    for model, low, high, vectors in models:
        if low == high:  # a model with vectors of two lengths is left to `index rebuild`
            memory = pgvector_schema.build_memory(int(vectors), int(low))
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{memory}'"))
            conn.execute(text(pgvector_schema.create_index_sql(str(model), int(low))))


def _reset_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """Move each serial id's sequence past the largest copied id (PostgreSQL)."""
    for table in tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer) or key[0].autoincrement is False:
            continue
        column = key[0].name
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE(MAX("{column}"), 0) + 1, false) FROM "{table.name}"'
            ),
            {"table": table.name, "column": column},
        )
