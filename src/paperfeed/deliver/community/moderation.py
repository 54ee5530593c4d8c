"""Moderation: hiding papers, suspending members, changing roles, each recorded in the
audit log. Who may act on whom is decided by the pure functions at the top."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.errors import ForbiddenError, InvalidInputError, NotFoundError
from paperfeed.models import StoredPaper
from paperfeed.store import audit, moderation, users
from paperfeed.store.engine import writing
from paperfeed.store.users import ROLES, Member, Role

RANK = {"member": 0, "moderator": 1, "admin": 2}


def suspend_problem(actor: Member, target: Member) -> str | None:
    """Why ``actor`` may not suspend ``target``, or None. Pure: moderators suspend members,
    admins suspend anybody but themselves."""
    if actor.id == target.id:
        return "you cannot suspend yourself"
    if actor.role != "admin" and RANK[target.role] >= RANK[actor.role]:
        return "only admins may suspend moderators and admins"
    return None


def role_problem(actor: Member, target: Member, role: str) -> str | None:
    """Why ``actor`` may not give ``target`` this role, or None. Pure."""
    if role not in ROLES:
        return f"role: use one of {', '.join(ROLES)}"
    if actor.role != "admin":
        return "only admins may change roles"
    if actor.id == target.id:
        return "you cannot change your own role"
    return None


@dataclass
class Moderation:
    engine: Engine
    clock: Clock

    def hide_paper(
        self, who: Member | None, ident: str, hidden: bool, reason: str = ""
    ) -> StoredPaper:
        member = permissions.require(who, "hide")
        now = self.clock.now()
        with writing(self.engine) as conn:
            stored = find_paper(conn, ident, include_hidden=True)
            if hidden:
                moderation.hide_paper(
                    conn, paper_id=stored.id, by=member.id, reason=reason[:500], now=now
                )
            else:
                moderation.unhide_paper(conn, stored.id)
            audit.record(
                conn,
                actor_id=member.id,
                action="hide" if hidden else "unhide",
                target_type="paper",
                target_id=stored.id,
                detail=reason[:500],
                now=now,
            )
        return stored

    def _target(self, user_id: int) -> Member:
        with self.engine.connect() as conn:
            target = users.get_user(conn, user_id)
        if target is None:
            raise NotFoundError(f"no member {user_id}")
        return target

    def suspend(self, who: Member | None, user_id: int, suspended: bool, reason: str = "") -> None:
        member = permissions.require(who, "suspend")
        target = self._target(user_id)
        problem = suspend_problem(member, target)
        if problem:
            raise ForbiddenError(problem)
        now = self.clock.now()
        with writing(self.engine) as conn:
            users.set_suspended(conn, target.id, now if suspended else None)
            audit.record(
                conn,
                actor_id=member.id,
                action="suspend" if suspended else "unsuspend",
                target_type="member",
                target_id=target.id,
                detail=reason[:500],
                now=now,
            )

    def set_role(self, who: Member | None, user_id: int, role: str) -> None:
        member = permissions.require(who, "admin")
        target = self._target(user_id)
        problem = role_problem(member, target, role)
        if problem:
            raise (InvalidInputError if role not in ROLES else ForbiddenError)(problem)
        role_value: Role = role  # type: ignore[assignment]
        with writing(self.engine) as conn:
            users.set_role(conn, target.id, role_value)
            audit.record(
                conn,
                actor_id=member.id,
                action="role",
                target_type="member",
                target_id=target.id,
                detail=f"{target.role} -> {role}",
                now=self.clock.now(),
            )
