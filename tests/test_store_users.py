"""Members, sessions, tokens, rate events and the audit log on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.errors import ConflictError
from paperfeed.store import audit, rate_events, tokens, users
from paperfeed.store.engine import writing

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_members_sessions_tokens_round_trip(engine: Engine) -> None:
    with writing(engine) as conn:
        ada = users.create_user(
            conn, email="Ada@X.org", username="Ada", password_hash="h", role="admin", now=NOW
        )
    assert (ada.email, ada.username, ada.role, ada.verified) == ("ada@x.org", "ada", "admin", False)
    with pytest.raises(ConflictError), writing(engine) as conn:
        users.create_user(
            conn, email="ada@x.org", username="other", password_hash="h", role="member", now=NOW
        )
    with writing(engine) as conn:
        users.mark_verified(conn, ada.id, NOW)
        users.create_session(
            conn, token_hash="a" * 64, user_id=ada.id, now=NOW, expires_at=NOW + timedelta(days=1)
        )
        tid = tokens.insert_token(
            conn, user_id=ada.id, name="t", selector="s" * 16, secret_hash="b" * 64, now=NOW
        )
        audit.record(
            conn, actor_id=ada.id, action="hide", target_type="paper", target_id=3, now=NOW
        )
    with engine.connect() as conn:
        member = users.session_member(conn, "a" * 64, NOW)
        assert member is not None and member.verified_at == NOW
        assert users.session_member(conn, "a" * 64, NOW + timedelta(days=2)) is None
        row = tokens.by_selector(conn, "s" * 16)
        assert row is not None and row.id == tid and row.user_id == ada.id
        (entry,) = audit.recent(conn)
        assert (entry.actor, entry.action, entry.target_id) == ("ada", "hide", 3)
    with writing(engine) as conn:
        assert tokens.revoke(conn, token_id=tid, user_id=ada.id + 1, now=NOW) is False
        assert tokens.revoke(conn, token_id=tid, user_id=ada.id, now=NOW) is True
        users.set_suspended(conn, ada.id, NOW)
    with engine.connect() as conn:
        assert tokens.tokens_of(conn, ada.id) == []
        assert users.session_member(conn, "a" * 64, NOW) is None, "suspension ends sessions"


def test_rate_events_window(engine: Engine) -> None:
    with writing(engine) as conn:
        for minutes in (20, 10, 5):
            rate_events.record(conn, "login-fail", "a@x.org", NOW - timedelta(minutes=minutes))
        rate_events.record(conn, "login-fail", "b@x.org", NOW)
    with engine.connect() as conn:
        found = rate_events.times(conn, "login-fail", "a@x.org", NOW - timedelta(minutes=15))
    assert found == [NOW - timedelta(minutes=10), NOW - timedelta(minutes=5)]
    with writing(engine) as conn:
        rate_events.clear(conn, "login-fail", "a@x.org")
        assert rate_events.prune(conn, NOW - timedelta(minutes=1)) == 0
    with engine.connect() as conn:
        assert rate_events.times(conn, "login-fail", "a@x.org", NOW - timedelta(days=1)) == []
