"""`paperfeed db copy` names the row it cannot copy (table, key and column), so an
operator can fix that one row: a NUL that an older paperfeed let into SQLite cannot go
to PostgreSQL (issue #15 item 1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from paperfeed.errors import StorageError
from paperfeed.store import users as user_store
from paperfeed.store.copy import copy_database
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.migrate import migrate
from paperfeed.store.tables.community import rate_events

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.mark.postgres_only
def test_a_row_postgresql_cannot_hold_is_named(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(source)
    with writing(source) as conn:
        for n in range(5):
            user_store.create_user(
                conn,
                email=f"m{n}@example.org",
                username=f"member{n}",
                password_hash="x" * 20,
                role="member",
                now=NOW,
            )
        conn.execute(
            insert(rate_events),
            [
                {"bucket": "login-ip", "key": "127.0.0.1", "at": NOW},
                {"bucket": "login-fail", "key": "zz\x00@b.c", "at": NOW},
                {"bucket": "login-ip", "key": "127.0.0.2", "at": NOW},
            ],
        )
    target = make_engine(postgres_url)
    with pytest.raises(StorageError) as caught:
        copy_database(source, target, source_id="old.db", batch_size=100)
    message = str(caught.value)
    assert "rate_events" in message and "id=2" in message and "key" in message, message
    assert "NUL" in message, message
