"""The PostgreSQL driver is an extra (``paperfeed[postgres]``): without it, a postgresql://
URL is a clear configuration error at each edge, not a ModuleNotFoundError traceback."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.errors import ConfigError, MissingExtraError
from paperfeed.store.engine import make_engine

# Nothing listens on port 9 of the loopback: the error must come before any connection.
URL = "postgresql://pf:secret@127.0.0.1:9/paperfeed"


@pytest.fixture
def no_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if psycopg were not installed: `import psycopg` fails with ModuleNotFoundError."""
    monkeypatch.setitem(sys.modules, "psycopg", None)


@pytest.mark.usefixtures("no_driver")
def test_a_postgres_url_without_the_driver_names_the_extra() -> None:
    with pytest.raises(MissingExtraError, match=r"paperfeed\[postgres\]") as caught:
        make_engine(URL)
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


@pytest.mark.usefixtures("no_driver")
def test_sqlite_needs_no_driver(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/db.sqlite")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select 1").scalar() == 1
    engine.dispose()


@pytest.mark.usefixtures("no_driver")
@pytest.mark.parametrize("command", [["migrate"], ["serve", "--port", "9"], ["stats"]])
def test_the_cli_says_what_to_install(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", URL)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == MissingExtraError.exit_code == 78, result.output
    assert "error: a postgresql:// database URL needs the PostgreSQL driver" in result.output
    assert "pip install 'paperfeed[postgres]'" in result.output
    assert "Traceback" not in result.output


def test_an_installed_driver_gives_a_postgres_engine() -> None:
    engine = make_engine(URL)
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
