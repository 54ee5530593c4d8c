"""Statements that take a list of ids (store/id_lists.py): right answers for any number of
ids on both databases, and on PostgreSQL one statement text whatever the number (one
parse, then a prepared statement), where an expanded ``IN`` list made a new one per count."""

from __future__ import annotations

from sqlalchemy import Engine, event

from paperfeed.clock import FrozenClock
from paperfeed.store import users as user_store
from paperfeed.store.engine import writing
from paperfeed.store.moderation import hidden_among, hide_paper
from paperfeed.store.papers import read_papers
from test_vectors import add_papers


def test_lists_of_any_length_read_the_right_papers(engine: Engine, clock: FrozenClock) -> None:
    ids = add_papers(engine, 40, clock.now())
    with writing(engine) as conn:
        moderator = user_store.create_user(
            conn,
            email="mod@example.org",
            username="mod",
            password_hash="x" * 20,
            role="moderator",
            now=clock.now(),
        )
        for pid in ids[5:8]:
            hide_paper(conn, paper_id=pid, by=moderator.id, reason="spam", now=clock.now())
    sent: list[str] = []

    def remember(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("SELECT"):  # not SQLite's BEGIN
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    missing = max(ids) + 1000
    with engine.connect() as conn:
        for wanted in (ids[:1], ids[:3], [*ids[:30], missing]):
            found = read_papers(conn, wanted)
            assert sorted(found) == sorted(set(wanted) - {missing})
            assert all(found[pid].paper.title == f"Paper {ids.index(pid)}" for pid in found)
            assert hidden_among(conn, wanted) == set(wanted) & set(ids[5:8])
    event.remove(engine, "before_cursor_execute", remember)
    assert len(sent) == 9  # three statements for each list
    if engine.dialect.name == "postgresql":
        assert len(set(sent)) == 3 and all("ANY" in s for s in sent)
    else:
        assert len(set(sent)) == 9  # SQLite: a placeholder per id
