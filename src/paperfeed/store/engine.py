"""Engines for SQLite and PostgreSQL: the dialect-specific connection set-up.

SQLite runs in WAL mode with a busy timeout and foreign keys on. On both databases a
number too large for its column (an id typed into a URL or a form) raises
:class:`InvalidInputError` (400) instead of a driver error. Write
transactions (opened with :func:`writing`) start with ``BEGIN IMMEDIATE`` so two
writers queue on the busy timeout instead of failing half-way with "database is
locked"; read transactions start deferred and never block each other.

PostgreSQL engines take their pool and timeouts from :class:`EngineOptions` (built from
the settings by :meth:`EngineOptions.from_settings`); their driver, psycopg 3, comes with the
``postgres`` extra, and a ``postgresql://`` URL without it raises :class:`MissingExtraError`
saying what to install. A statement cancelled by the statement timeout, and a server that
cannot be reached, raise :class:`StorageError` (503 at the HTTP edge) instead of a driver
error. A pooled PostgreSQL connection is pinged before use only when it has sat idle in the
pool for :data:`PING_IDLE_SECONDS` or more (a dropped one is then replaced unseen): a busy
server hands its connections straight back out, sparing a round trip per checkout (a hybrid
search checks out five). A server restarted within that second costs the one request that
finds its connection gone a 503; the pool then replaces every older connection.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from paperfeed.errors import ConfigError, InvalidInputError, MissingExtraError, StorageError

if TYPE_CHECKING:
    from paperfeed.config import Settings

#: SQLSTATE of a statement cancelled (by statement_timeout, or by an operator).
_QUERY_CANCELED = "57014"
#: SQLSTATE of a number out of its column's range (an id typed into a URL or a form).
_OUT_OF_RANGE = "22003"
_TOO_LARGE = "a number is too large for the database"
#: A pooled PostgreSQL connection idle at least this long is pinged before it is handed out.
PING_IDLE_SECONDS = 1.0
#: Where a pooled connection's record keeps the time it was returned to the pool.
_IDLE_SINCE = "paperfeed_idle_since"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How an engine connects and pools. The pool and timeouts apply to PostgreSQL;
    SQLite (one file, no server) uses the busy timeout only."""

    busy_timeout_ms: int = 5000
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout_seconds: float = 30.0
    #: Reopen connections older than this (0: never).
    pool_recycle_seconds: int = 1800
    connect_timeout_seconds: int = 10
    #: Cancel statements running longer (0: no limit).
    statement_timeout_ms: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, statement_timeout: bool = True) -> EngineOptions:
        """The settings' options; ``statement_timeout=False`` for batch work (migrations,
        index rebuilds, copies), whose statements may rightly run long."""
        return cls(
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_seconds=settings.db_pool_timeout_seconds,
            pool_recycle_seconds=settings.db_pool_recycle_seconds,
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
            statement_timeout_ms=settings.db_statement_timeout_ms if statement_timeout else 0,
        )


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick the psycopg 3 driver for it."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int | None = None,
    options: EngineOptions | None = None,
    create: bool = True,
) -> Engine:
    """Create the engine for ``url``; for a SQLite file, create its folder too.

    ``create=False`` (what commands and the server use, all but ``paperfeed migrate``)
    refuses a SQLite file that does not exist with a :class:`StorageError` naming the path
    and the setting (exit 6, as for an unmigrated database), and creates nothing: SQLite
    would otherwise make an empty file.
    """
    options = options or EngineOptions()
    if busy_timeout_ms is not None:
        options = dataclasses.replace(options, busy_timeout_ms=busy_timeout_ms)
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not create:
            require_sqlite_file(parsed.database)
        return _sqlite_engine(url, parsed.database, options.busy_timeout_ms)
    return _postgres_engine(url, options)


def _postgres_engine(url: str, options: EngineOptions) -> Engine:
    connect_args: dict[str, Any] = {"connect_timeout": options.connect_timeout_seconds}
    if options.statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={int(options.statement_timeout_ms)}"
    try:
        engine = create_engine(
            url,
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_timeout=options.pool_timeout_seconds,
            pool_recycle=options.pool_recycle_seconds or -1,
            connect_args=connect_args,
        )
    except ModuleNotFoundError as exc:  # SQLAlchemy imports the driver here
        if exc.name != "psycopg":
            raise
        raise MissingExtraError(
            "a postgresql:// database URL needs the PostgreSQL driver, which is not installed: "
            "pip install 'paperfeed[postgres]' (or, in a checkout, make run LOCK=postgres)"
        ) from exc
    _ping_when_idle(engine)
    timeout_ms = options.statement_timeout_ms

    @event.listens_for(engine, "handle_error")
    def _translate(context: ExceptionContext) -> None:
        original = context.original_exception
        if context.is_pre_ping or not isinstance(original, Exception):
            return  # a reconnect SQLAlchemy handles, or Ctrl-C / exit: let it through
        if "cannot contain NUL (0x00)" in str(original):
            # psycopg refuses text with NUL before sending it; SQLite would store it.
            raise InvalidInputError("text cannot contain the NUL character (\\x00)") from None
        if getattr(original, "sqlstate", None) == _OUT_OF_RANGE:
            raise InvalidInputError(_TOO_LARGE) from None
        if getattr(original, "sqlstate", None) == _QUERY_CANCELED:
            limit = f" (PAPERFEED_DB_STATEMENT_TIMEOUT_MS={timeout_ms})" if timeout_ms else ""
            raise StorageError(
                f"the database cancelled a statement that ran too long{limit}"
            ) from original
        if context.connection is None or context.is_disconnect:
            first = str(original).strip().splitlines()
            reason = first[0] if first else type(original).__name__
            raise StorageError(f"the database does not answer: {reason}") from original

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use when it sat idle :data:`PING_IDLE_SECONDS` or
    more (what ``pool_pre_ping`` does on every checkout); a dead one is replaced."""
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                # The pool discards this connection and checks out (or opens) another.
                raise DisconnectionError(f"a pooled connection was gone: {exc}") from exc
            raise


def require_sqlite_file(database: str | None) -> None:
    """Raise :class:`StorageError` when the SQLite file ``database`` does not exist."""
    if database in (None, "", ":memory:") or str(database).startswith("file:"):
        return
    path = Path(str(database)).expanduser()
    if not path.is_file():
        raise StorageError(
            f"no database at {path.absolute()} (PAPERFEED_DATABASE_URL is sqlite:///{database}): "
            "run `paperfeed migrate` to create it there, or set PAPERFEED_DATABASE_URL "
            "to the hub's database"
        )


def _sqlite_engine(url: str, database: str | None, busy_timeout_ms: int) -> Engine:
    memory = database in (None, "", ":memory:")
    if not memory and database is not None:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        future=True,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "handle_error")
    def _translate(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, OverflowError):
            # Larger than SQLite's 64-bit INTEGER (PostgreSQL: SQLSTATE 22003).
            raise InvalidInputError(_TOO_LARGE) from None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


_WRITE_OPTION = "paperfeed_write"


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: committed on success, rolled back on any error.

    On SQLite it takes the write lock up front (``BEGIN IMMEDIATE``).
    """
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that need no transaction around them (a request's few
    statements). On PostgreSQL it runs in autocommit: no ``BEGIN`` before its first
    statement and no ``ROLLBACK`` when it goes back to the pool, two round trips fewer a
    checkout; each statement still reads one consistent snapshot, as each does at READ
    COMMITTED inside a transaction. SQLite (in process, no round trips) reads as ever."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")  # reset on return
        yield conn


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
