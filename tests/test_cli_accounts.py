"""``paperfeed user create`` and ``paperfeed token create``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import load_settings
from paperfeed.deliver import security
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.store.engine import make_engine


@pytest.fixture
def env(db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERFEED_SECRET_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    return db_url


def test_user_create_then_token_create(env: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            "user",
            "create",
            "Ada@Example.org",
            "--username",
            "Ada",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="a long admin password\n",
    )
    assert made.exit_code == 0, made.output
    assert "created admin ada <ada@example.org>" in made.output
    again = runner.invoke(
        cli,
        ["user", "create", "ada@example.org", "--username", "ada2", "--password-stdin"],
        input="a long admin password\n",
    )
    assert again.exit_code == 4 and "taken" in again.output
    short = runner.invoke(
        cli,
        ["user", "create", "b@example.org", "--username", "bob", "--password-stdin"],
        input="x\n",
    )
    assert short.exit_code == 2 and "10 characters" in short.output
    no_stdin = runner.invoke(cli, ["user", "create", "b@example.org", "--username", "bob"])
    assert no_stdin.exit_code == 2

    token = runner.invoke(cli, ["token", "create", "ada", "--name", "script"])
    assert token.exit_code == 0, token.output
    printed = token.output.strip()
    assert printed.startswith("pf_")
    settings = load_settings(database_url=env, secret_file=str(tmp_path / "secret.key"))
    accounts = Accounts(
        settings, make_engine(env), settings.clock(), security.load_secret(settings)
    )
    member = accounts.token_member(printed)
    assert member is not None and member.role == "admin" and member.verified
    missing = runner.invoke(cli, ["token", "create", "nobody"])
    assert missing.exit_code == 3
