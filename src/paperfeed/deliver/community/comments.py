"""Comments: posting, replying (one level deep), editing and deleting one's own, and
moderators hiding; the rules are pure functions, the writes go through the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.deliver.community import permissions
from paperfeed.errors import InvalidInputError, NotFoundError
from paperfeed.store import audit
from paperfeed.store import comments as store
from paperfeed.store.comments import Comment
from paperfeed.store.engine import writing
from paperfeed.store.users import Member

MAX_BODY = 10_000


def check_body(body: str) -> str:
    """The comment's text, or why it cannot be posted. Pure."""
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInputError("write something first")
    if len(text) > MAX_BODY:
        raise InvalidInputError(f"a comment has at most {MAX_BODY:,} characters")
    return text


def reply_problem(parent: Comment | None, paper_id: int) -> str | None:
    """Why one cannot reply to ``parent`` on ``paper_id``, or None. Pure."""
    if parent is None or parent.paper_id != paper_id:
        return "no such comment on this paper"
    if parent.parent_id is not None:
        return "replies are one level deep: reply to the comment above instead"
    if not parent.visible:
        return "that comment was removed"
    return None


@dataclass
class Thread:
    """A top-level comment and its replies."""

    comment: Comment
    replies: list[Comment] = field(default_factory=list)


def threads(comments: list[Comment], *, moderator: bool) -> list[Thread]:
    """Comments grouped into threads, oldest first. Hidden ones are left out unless the
    viewer moderates (or a hidden comment has replies: then its place stays). Pure."""
    tops: dict[int, Thread] = {}
    for c in comments:
        if c.parent_id is None:
            tops[c.id] = Thread(c)
    for c in comments:
        if c.parent_id in tops and (c.hidden_at is None or moderator):
            tops[c.parent_id].replies.append(c)
    return [t for t in tops.values() if t.comment.hidden_at is None or moderator or t.replies]


@dataclass
class Comments:
    engine: Engine
    clock: Clock

    def post(self, who: Member | None, paper_id: int, body: str, parent_id: int | None) -> int:
        member = permissions.require(who, "comment")
        text = check_body(body)
        with writing(self.engine) as conn:
            if parent_id is not None:
                problem = reply_problem(store.get(conn, parent_id), paper_id)
                if problem:
                    raise InvalidInputError(problem)
            return store.add(
                conn,
                paper_id=paper_id,
                user_id=member.id,
                parent_id=parent_id,
                body=text,
                now=self.clock.now(),
            )

    def _own(self, who: Member | None, comment_id: int) -> Comment:
        with self.engine.connect() as conn:
            found = store.get(conn, comment_id)
        if found is None or found.deleted_at is not None:
            raise NotFoundError(f"no comment {comment_id}")
        permissions.require(who, "edit_comment", owner_id=found.user_id)
        return found

    def editable(self, who: Member | None, comment_id: int) -> Comment:
        return self._own(who, comment_id)

    def edit(self, who: Member | None, comment_id: int, body: str) -> Comment:
        found = self._own(who, comment_id)
        text = check_body(body)
        with writing(self.engine) as conn:
            store.edit(conn, comment_id, text, self.clock.now())
        return found

    def delete(self, who: Member | None, comment_id: int) -> Comment:
        found = self._own(who, comment_id)
        with writing(self.engine) as conn:
            store.delete(conn, comment_id, self.clock.now())
        return found

    def hide(self, who: Member | None, comment_id: int, hidden: bool, reason: str = "") -> Comment:
        member = permissions.require(who, "hide")
        now = self.clock.now()
        with writing(self.engine) as conn:
            found = store.get(conn, comment_id)
            if found is None:
                raise NotFoundError(f"no comment {comment_id}")
            store.set_hidden(conn, comment_id, now if hidden else None)
            audit.record(
                conn,
                actor_id=member.id,
                action="hide" if hidden else "unhide",
                target_type="comment",
                target_id=comment_id,
                detail=reason[:500],
                now=now,
            )
        return found
