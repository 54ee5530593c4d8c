"""API tokens: a public selector finds the row; the secret is kept as its SHA-256 only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from paperfeed.store.tables.community import api_tokens


@dataclass(frozen=True)
class TokenRow:
    id: int
    user_id: int
    name: str
    selector: str
    secret_hash: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _row(m: object) -> TokenRow:
    mapping = m._mapping  # type: ignore[attr-defined]
    return TokenRow(**{k: mapping[k] for k in TokenRow.__dataclass_fields__})


def insert_token(
    conn: Connection, *, user_id: int, name: str, selector: str, secret_hash: str, now: datetime
) -> int:
    return int(
        conn.execute(
            insert(api_tokens)
            .values(
                user_id=user_id,
                name=name,
                selector=selector,
                secret_hash=secret_hash,
                created_at=now,
            )
            .returning(api_tokens.c.id)
        ).scalar_one()
    )


def by_selector(conn: Connection, selector: str) -> TokenRow | None:
    row = conn.execute(select(api_tokens).where(api_tokens.c.selector == selector)).first()
    return _row(row) if row is not None else None


def tokens_of(conn: Connection, user_id: int) -> list[TokenRow]:
    rows = conn.execute(
        select(api_tokens)
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .order_by(api_tokens.c.id)
    ).all()
    return [_row(r) for r in rows]


def touch(conn: Connection, token_id: int, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


def revoke(conn: Connection, *, token_id: int, user_id: int, now: datetime) -> bool:
    """Revoke one of ``user_id``'s tokens; False when it is not theirs or already revoked."""
    done = conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.user_id == user_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return done.rowcount == 1


def revoke_all(conn: Connection, *, user_id: int, now: datetime) -> int:
    """Revoke every live token of ``user_id`` (a password reset does); how many."""
    done = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(done.rowcount)
