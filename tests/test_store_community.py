"""Comments, collections and submissions on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.errors import ConflictError
from paperfeed.models import Paper
from paperfeed.store import collections, comments, submissions, users
from paperfeed.store import papers as store
from paperfeed.store.engine import writing

T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _seed(engine: Engine) -> tuple[int, int]:
    with writing(engine) as conn:
        (pid,) = store.insert_papers(
            conn, [Paper(title="P", abstract="A.", arxiv_id="2611.00001", source="t")], T
        )
        uid = users.create_user(
            conn, email="a@x.org", username="ann", password_hash="h", role="member", now=T
        ).id
    return pid, uid


def test_comments(engine: Engine) -> None:
    pid, uid = _seed(engine)
    with writing(engine) as conn:
        first = comments.add(conn, paper_id=pid, user_id=uid, parent_id=None, body="a", now=T)
        comments.add(conn, paper_id=pid, user_id=uid, parent_id=first, body="b", now=T)
        comments.edit(conn, first, "a2", T + timedelta(minutes=1))
    with writing(engine) as conn:
        third = comments.add(conn, paper_id=pid, user_id=uid, parent_id=None, body="c", now=T)
        comments.set_hidden(conn, third, T)
    with engine.connect() as conn:
        thread = comments.thread(conn, pid)
        assert [(c.body, c.parent_id, c.username) for c in thread] == [
            ("a2", None, "ann"),
            ("b", first, "ann"),
            ("c", None, "ann"),
        ]
        assert thread[0].edited_at == T + timedelta(minutes=1)
        assert comments.counts(conn, [pid]) == {pid: 2}
    with writing(engine) as conn:
        comments.delete(conn, first, T)
    with engine.connect() as conn:
        gone = comments.get(conn, first)
        assert gone is not None and gone.body == "" and gone.deleted_at == T


def test_collections(engine: Engine) -> None:
    pid, uid = _seed(engine)
    with writing(engine) as conn:
        cid = collections.create(conn, user_id=uid, title="t", description="d", public=True, now=T)
        collections.put_item(conn, cid, pid, "first note", T)
        collections.put_item(conn, cid, pid, "second note", T + timedelta(hours=1))
    with engine.connect() as conn:
        found = collections.get(conn, cid)
        assert found is not None and found.size == 1 and found.public and found.username == "ann"
        assert found.updated_at == T + timedelta(hours=1)
        (item,) = collections.items(conn, cid)
        assert (item.paper_id, item.note, item.added_at) == (pid, "second note", T)
        assert [c.id for c in collections.public(conn)] == [cid]
    with writing(engine) as conn:
        collections.change(conn, cid, title="t2", description="", public=False, now=T)
        assert collections.remove_item(conn, cid, pid, T) is True
        assert collections.remove_item(conn, cid, pid, T) is False
    with engine.connect() as conn:
        assert collections.public(conn) == []
        assert [c.title for c in collections.of_user(conn, uid)] == ["t2"]


def test_a_paper_is_submitted_once(engine: Engine) -> None:
    pid, uid = _seed(engine)
    with writing(engine) as conn:
        submissions.record(conn, paper_id=pid, user_id=uid, now=T)
    with pytest.raises(ConflictError), writing(engine) as conn:
        submissions.record(conn, paper_id=pid, user_id=uid, now=T)
    with engine.connect() as conn:
        assert submissions.submitters(conn, [pid, pid + 1]) == {pid: "ann"}


def test_hidden_papers_list_newest_first_ties_by_paper(engine: Engine) -> None:
    """Regression: papers hidden at the same instant came back in whatever order the engine
    scanned them (insertion order on PostgreSQL, the key's order on SQLite)."""
    from paperfeed.store import moderation

    _, uid = _seed(engine)
    more = [
        Paper(title=f"P{n}", abstract="A.", arxiv_id=f"2611.0001{n}", source="t") for n in range(4)
    ]
    with writing(engine) as conn:
        ids = store.insert_papers(conn, more, T)
        for pid in (ids[1], ids[3], ids[0]):
            moderation.hide_paper(conn, paper_id=pid, by=uid, reason="spam", now=T)
        moderation.hide_paper(conn, paper_id=ids[2], by=uid, reason="", now=T + timedelta(1))
    with engine.connect() as conn:
        listed = [h.paper_id for h in moderation.hidden_list(conn)]
    assert listed == [ids[2], ids[3], ids[1], ids[0]]
