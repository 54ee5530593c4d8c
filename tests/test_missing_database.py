"""A command run where there is no database says so and creates nothing (refs #15).

Only ``paperfeed migrate`` (and ``init``, which migrates) creates a missing SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each test runs `python -m paperfeed` in a child process: slow.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.slow]


def _paperfeed(cwd: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_EMBED_ON_INGEST"] = "false"
    if url is not None:
        env["PAPERFEED_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_outside_the_project_creates_no_database(tmp_path: Path) -> None:
    done = _paperfeed(tmp_path, "token", "create", "carol")
    assert done.returncode == 6  # the database is not ready, as an unmigrated one
    assert not (tmp_path / "data").exists()
    assert done.stderr.count("error:") == 1, done.stderr
    assert "data/paperfeed.db" in done.stderr
    assert "PAPERFEED_DATABASE_URL" in done.stderr
    assert "paperfeed migrate" in done.stderr


def test_a_missing_file_named_by_the_setting_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "hub.db"
    done = _paperfeed(tmp_path, "stats", url=f"sqlite:///{db}")
    assert done.returncode != 0
    assert str(db) in done.stderr
    assert not db.parent.exists()


def test_the_server_refuses_a_missing_database(tmp_path: Path) -> None:
    from paperfeed.config import load_settings
    from paperfeed.deliver.app import create_app
    from paperfeed.errors import StorageError

    db = tmp_path / "data" / "hub.db"
    with pytest.raises(StorageError, match="PAPERFEED_DATABASE_URL"):
        create_app(load_settings(database_url=f"sqlite:///{db}"))
    assert not db.parent.exists()


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    done = _paperfeed(tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "paperfeed.db").is_file()
    assert _paperfeed(tmp_path, "stats").returncode == 0
