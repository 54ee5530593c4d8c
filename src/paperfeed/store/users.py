"""Members and their log-in sessions: all the SQL of accounts.

E-mail addresses and user names are stored lower-cased, so look-ups ignore case.
Sessions are stored as the SHA-256 of the cookie's token, never the token itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.errors import ConflictError
from paperfeed.store.tables.community import user_sessions, users

Role = Literal["member", "moderator", "admin"]
ROLES: tuple[Role, ...] = ("member", "moderator", "admin")


@dataclass(frozen=True)
class Member:
    """A member as the rest of the code sees it (no password hash)."""

    id: int
    email: str
    username: str
    role: Role
    created_at: datetime
    verified_at: datetime | None
    suspended_at: datetime | None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None


def _member(row: Row[Any, *tuple[Any, ...]]) -> Member:
    m = row._mapping
    return Member(
        id=int(m["id"]),
        email=str(m["email"]),
        username=str(m["username"]),
        role=cast(Role, m["role"]),
        created_at=m["created_at"],
        verified_at=m["verified_at"],
        suspended_at=m["suspended_at"],
    )


_MEMBER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.username,
    users.c.role,
    users.c.created_at,
    users.c.verified_at,
    users.c.suspended_at,
)


def create_user(
    conn: Connection,
    *,
    email: str,
    username: str,
    password_hash: str,
    role: Role,
    now: datetime,
    verified: bool = False,
) -> Member:
    """Insert a member; :class:`ConflictError` when the e-mail or user name is taken."""
    try:
        new_id = conn.execute(
            insert(users)
            .values(
                email=email.lower(),
                username=username.lower(),
                password_hash=password_hash,
                role=role,
                created_at=now,
                verified_at=now if verified else None,
            )
            .returning(users.c.id)
        ).scalar_one()
    except IntegrityError as exc:
        raise ConflictError("that e-mail address or user name is taken") from exc
    member = get_user(conn, int(new_id))
    assert member is not None
    return member


def get_user(conn: Connection, user_id: int) -> Member | None:
    row = conn.execute(select(*_MEMBER_COLUMNS).where(users.c.id == user_id)).first()
    return _member(row) if row is not None else None


def by_email(conn: Connection, email: str) -> tuple[Member, str] | None:
    """The member with this e-mail address and their password hash."""
    row = conn.execute(
        select(*_MEMBER_COLUMNS, users.c.password_hash).where(users.c.email == email.lower())
    ).first()
    return (_member(row), str(row.password_hash)) if row is not None else None


def by_username(conn: Connection, username: str) -> Member | None:
    row = conn.execute(select(*_MEMBER_COLUMNS).where(users.c.username == username.lower())).first()
    return _member(row) if row is not None else None


def password_hash(conn: Connection, user_id: int) -> str | None:
    found = conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    return str(found) if found is not None else None


def set_password_hash(conn: Connection, user_id: int, new_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=new_hash))


def mark_verified(conn: Connection, user_id: int, now: datetime) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.verified_at.is_(None))
        .values(verified_at=now)
    )


def set_role(conn: Connection, user_id: int, role: Role) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(role=role))


def set_suspended(conn: Connection, user_id: int, at: datetime | None) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(suspended_at=at))
    if at is not None:
        delete_sessions_of(conn, user_id)


def list_users(conn: Connection, *, limit: int = 200) -> list[Member]:
    rows = conn.execute(select(*_MEMBER_COLUMNS).order_by(users.c.id).limit(limit)).all()
    return [_member(r) for r in rows]


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


# -- sessions ---------------------------------------------------------------------------------


def create_session(
    conn: Connection, *, token_hash: str, user_id: int, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        insert(user_sessions).values(
            token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def session_member(conn: Connection, token_hash: str, now: datetime) -> Member | None:
    """The member of an unexpired session, or None."""
    row = conn.execute(
        select(*_MEMBER_COLUMNS)
        .select_from(user_sessions.join(users, users.c.id == user_sessions.c.user_id))
        .where(user_sessions.c.token_hash == token_hash, user_sessions.c.expires_at > now)
    ).first()
    return _member(row) if row is not None else None


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == token_hash))


def delete_sessions_of(conn: Connection, user_id: int) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))


def delete_expired_sessions(conn: Connection, now: datetime) -> int:
    return conn.execute(delete(user_sessions).where(user_sessions.c.expires_at <= now)).rowcount
