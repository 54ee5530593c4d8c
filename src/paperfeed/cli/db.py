"""``paperfeed db copy``: move a deployment between databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from paperfeed.cli.base import Context, echo_json, edge, pass_context
from paperfeed.errors import InvalidInputError, StorageError
from paperfeed.index.lexical import fts5 as lexical_sqlite
from paperfeed.index.lexical import tsvector as lexical_postgres
from paperfeed.store.copy import copy_database
from paperfeed.store.copy_plan import CopyReport, Start
from paperfeed.store.engine import EngineOptions, make_engine, normalise_url

#: Exit status of a copy stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED_EXIT = 130

_NOT_COPIED = (
    "not copied: the index files under PAPERFEED_INDEX_DIR (tantivy word index, HNSW graph); "
    "they are rebuilt from the database on first use"
)


@click.group("db")
def db_group() -> None:
    """Whole-database operations: copy a deployment to another database."""


def source_identity(url: str) -> str:
    """The source as the target records it: the URL without password, a SQLite file by
    its absolute path (so a rerun from another folder is recognised)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database)).expanduser().resolve()
        return f"sqlite:///{path}"
    return parsed.render_as_string(hide_password=True)


def _rebuild_words(conn: Connection) -> None:
    """The engine's own full-text table, from the copied papers (nothing searches the
    target yet: PostgreSQL's GIN index is built once after the rows)."""
    if conn.dialect.name == "postgresql":
        lexical_postgres.rebuild(conn, index_after=True)
    else:
        lexical_sqlite.rebuild(conn)


class _Progress:
    """Rows copied per table on stderr: a bar on a terminal, else a line every few seconds."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.table = ""
        self.last = 0.0
        self.bar: Any = None

    def __call__(self, table: str, done: int, total: int) -> None:
        if self.tty:
            self._bar(table, done, total)
            return
        now = time.monotonic()
        if table != self.table or done >= total or now - self.last >= 2.0:
            click.echo(f"copy {table}: {done:,} / {total:,} rows", err=True)
            self.table, self.last = table, now

    def _bar(self, table: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if table != self.table:
            self.close()
            self.bar = tqdm(desc=table, total=total, unit=" rows", file=sys.stderr, leave=False)
            self.table = table
        assert self.bar is not None
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _summary(report: CopyReport) -> str:
    verb = {
        Start.FRESH: "copied",
        Start.RESUME: "resumed and copied",
        Start.REPLACE: "replaced the target's data and copied",
        Start.DONE: "the target already held a finished copy; verified",
    }[report.start]
    state = "checksums match" if report.ok else "CHECKSUMS DIFFER"
    return (
        f"{verb} {len(report.tables)} tables, {report.rows:,} rows "
        f"({report.rows_of('papers'):,} papers) in {report.seconds:.1f} s: {state}"
    )


@db_group.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="Database to copy from.")
@click.option("--to", "target", required=True, metavar="URL", help="Database to copy into.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=2000,
    show_default=True,
    help="Rows per target transaction (the unit a rerun resumes from).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Delete everything in a non-empty target first (one that is not a partial copy "
    "of this source).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_context
@edge
def db_copy(
    ctx: Context, source: str, target: str, batch_size: int, force: bool, as_json: bool
) -> None:
    """Copy every table from one database to another (SQLite <-> PostgreSQL, or the same
    engine), keeping ids, then verify each table by row count and checksum.

    The target is migrated first. It must be empty, or a copy of the same source that was
    interrupted: rerun the same command to resume it. --force empties any other target.
    Stop writers to the source meanwhile (a source that changes fails the checksums).
    The index files under PAPERFEED_INDEX_DIR are not copied: they are rebuilt from the
    database on first use. Progress goes to stderr.

    Example: paperfeed db copy --from sqlite:///data/paperfeed.db --to postgresql://pf@db/pf
    """
    if source_identity(source) == source_identity(target):
        raise InvalidInputError("--from and --to are the same database")
    parsed = make_url(normalise_url(source))
    if parsed.get_backend_name() == "sqlite" and not Path(str(parsed.database)).is_file():
        raise InvalidInputError(f"no SQLite database at {parsed.database} (--from)")
    options = EngineOptions.from_settings(ctx.settings, statement_timeout=False)
    source_engine = make_engine(source, options=options)
    target_engine = make_engine(target, options=options)
    progress = _Progress()
    try:
        report = copy_database(
            source_engine,
            target_engine,
            source_id=source_identity(source),
            batch_size=batch_size,
            force=force,
            on_progress=progress,
            finish=_rebuild_words,
        )
    except KeyboardInterrupt:
        progress.close()
        click.echo("interrupted: rerun the same command to resume the copy", err=True)
        sys.exit(INTERRUPTED_EXIT)
    finally:
        progress.close()
        source_engine.dispose()
        target_engine.dispose()
    if as_json:
        echo_json(dict(report.as_dict(), not_copied=_NOT_COPIED))
    else:
        click.echo(_summary(report))
        click.echo(_NOT_COPIED)
    if not report.ok:
        bad = ", ".join(t.name for t in report.tables if not t.ok)
        raise StorageError(
            f"the copy differs from the source in: {bad} (did the source change meanwhile? "
            "rerun with --force to copy anew)"
        )
