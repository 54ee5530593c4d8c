"""Who may do what: pure decisions over a member (or nobody) and the thing acted on.

Every write route calls :func:`require` with its action before touching the store.
"""

from __future__ import annotations

from typing import Literal, get_args

from paperfeed.errors import ForbiddenError, UnauthorizedError
from paperfeed.store.users import Member

Action = Literal[
    "vote",
    "submit",
    "comment",
    "edit_comment",
    "curate",
    "read_collection",
    "hide",
    "suspend",
    "admin",
    "manage_tokens",
]

#: Actions only moderators and admins may take.
MODERATION: frozenset[Action] = frozenset({"hide", "suspend"})
#: Actions that need no verified, unsuspended account (reading one's own things).
READS: frozenset[Action] = frozenset({"read_collection"})


def problem(member: Member | None, action: Action, owner_id: int | None = None) -> str | None:
    """Why ``member`` may not take ``action`` (on a thing owned by ``owner_id``), or None."""
    if member is None:
        return "log in first"
    if action in READS:
        if owner_id is not None and owner_id != member.id:
            return "that is not yours"
        return None
    if member.suspended:
        return "your account is suspended"
    if not member.verified:
        return "confirm your e-mail address first"
    if action == "admin":
        return None if member.role == "admin" else "only admins may do that"
    if action in MODERATION:
        return None if member.role in ("moderator", "admin") else "only moderators may do that"
    if owner_id is not None and owner_id != member.id:
        return "that is not yours"
    return None


def allowed(member: Member | None, action: Action, owner_id: int | None = None) -> bool:
    return problem(member, action, owner_id) is None


def allowed_actions(member: Member | None) -> frozenset[Action]:
    """The actions ``member`` (or a visitor) may take, ownership aside: what a page
    offers them (templates test ``"hide" in may``). Pure."""
    return frozenset(a for a in get_args(Action) if allowed(member, a))


def require(member: Member | None, action: Action, owner_id: int | None = None) -> Member:
    """The member when allowed; else 401 (nobody) or 403 (not allowed)."""
    why = problem(member, action, owner_id)
    if why is not None:
        if member is None:
            raise UnauthorizedError(why)
        raise ForbiddenError(why)
    assert member is not None
    return member
