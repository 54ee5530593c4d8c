"""What a paper card shows beyond the paper (refs #16): the store's one statement for a
page of cards on SQLite and PostgreSQL, and the pure assembly of the cards from it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, event

from paperfeed.deliver.web.cards import Social, cards_of, load_cards
from paperfeed.models import Paper, StoredPaper
from paperfeed.store import papers as store
from paperfeed.store import submissions, thumbnails, users, votes
from paperfeed.store.cards import CardFacts, card_facts
from paperfeed.store.engine import writing

T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _seed(engine: Engine) -> tuple[list[int], int, int]:
    """Three papers (imported upvotes 0, 5, 0); ann voted for the first two, bob for the
    first; bob submitted the second; the third has a thumbnail and a failed one is not."""
    with writing(engine) as conn:
        ids = store.insert_papers(
            conn,
            [
                Paper(title=f"P{n}", abstract="A.", arxiv_id=f"2611.0000{n}", source="t", upvotes=u)
                for n, u in ((1, 0), (2, 5), (3, 0))
            ],
            T,
        )
        ann, bob = (
            users.create_user(
                conn, email=f"{n}@x.org", username=n, password_hash="h", role="member", now=T
            ).id
            for n in ("ann", "bob")
        )
        for pid in ids[:2]:
            votes.set_vote(conn, paper_id=pid, user_id=ann, on=True, now=T)
        votes.set_vote(conn, paper_id=ids[0], user_id=bob, on=True, now=T)
        submissions.record(conn, paper_id=ids[1], user_id=bob, now=T)
        thumbnails.save(
            conn,
            ids[2],
            image=b"png",
            media_type="image/png",
            width=1,
            height=1,
            source="arxiv",
            attempts=1,
            now=T,
        )
        thumbnails.fail(
            conn, ids[0], source="arxiv", error="no page", attempts=1, retry_after=T, now=T
        )
    return list(ids), ann, bob


def test_one_statement_tells_a_page_of_cards(engine: Engine) -> None:
    ids, ann, bob = _seed(engine)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with engine.connect() as conn:
        as_ann = card_facts(conn, [*ids, 999], user_id=ann, count_votes=True)
        as_visitor = card_facts(conn, ids, user_id=None, count_votes=False)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 2
    assert as_ann == {
        ids[0]: CardFacts(hub_votes=2, upvoted=True, submitted_by=None, thumbnail=None),
        ids[1]: CardFacts(hub_votes=1, upvoted=True, submitted_by="bob", thumbnail=None),
        ids[2]: CardFacts(hub_votes=0, upvoted=False, submitted_by=None, thumbnail="image/png"),
    }
    assert [(f.hub_votes, f.upvoted) for f in as_visitor.values()] == [(None, False)] * 3
    with engine.connect() as conn:
        as_bob = card_facts(conn, ids, user_id=bob, count_votes=True)
        assert card_facts(conn, [], user_id=bob, count_votes=True) == {}
    assert [as_bob[i].upvoted for i in ids] == [True, False, False]


def test_load_cards_adds_the_imported_votes_and_paths(engine: Engine) -> None:
    ids, ann, _ = _seed(engine)
    with engine.connect() as conn:
        found = store.read_papers(conn, ids)
        member = users.get_user(conn, ann)
        cards = load_cards(conn, [found[i] for i in ids], member)
    assert [cards.of(found[i]) for i in ids] == [
        Social(2, True, None),
        Social(6, True, "bob"),
        Social(0, False, None),
    ]
    assert [cards.thumbnail(found[i]) for i in ids] == [None, None, f"/thumbnails/{ids[2]}.png"]


def _stored(pid: int, upvotes: int) -> StoredPaper:
    paper = Paper(title="P", abstract="A.", source="t", upvotes=upvotes)
    return StoredPaper(id=pid, paper=paper, first_seen_at=T, changed_at=T)


def test_cards_take_a_lists_counted_votes_and_survive_a_deleted_paper() -> None:
    papers = [_stored(1, 3), _stored(2, 3), _stored(3, 4)]
    facts = {
        1: CardFacts(hub_votes=None, upvoted=True, submitted_by="ann", thumbnail="image/webp"),
        2: CardFacts(hub_votes=2, upvoted=False, submitted_by=None, thumbnail=None),
    }
    cards = cards_of(papers, facts, {1: 9})
    assert cards.social == {
        1: Social(9, True, "ann"),  # the list counted them
        2: Social(5, False, None),  # imported 3 plus the hub's 2
        3: Social(4, False, None),  # gone from the store since: its imported votes only
    }
    assert cards.thumbnails == {1: "/thumbnails/1.webp"}


def test_the_same_statement_counts_visible_comments_when_asked(engine: Engine) -> None:
    """The JSON API's community part (votes, comments, submitter) is this one statement:
    deleted and hidden comments are not counted; a paper without any counts 0."""
    from paperfeed.store import comments

    ids, ann, bob = _seed(engine)
    with writing(engine) as conn:
        made = [
            comments.add(conn, paper_id=ids[0], user_id=u, parent_id=None, body="b", now=T)
            for u in (ann, bob, ann, bob)
        ]
        comments.add(conn, paper_id=ids[1], user_id=ann, parent_id=None, body="b", now=T)
        comments.delete(conn, made[1], T)
        comments.set_hidden(conn, made[2], T)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with engine.connect() as conn:
        facts = card_facts(conn, ids, user_id=None, count_votes=True, count_comments=True)
        without = card_facts(conn, ids, user_id=None, count_votes=False)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 2
    assert [(facts[i].hub_votes, facts[i].comments) for i in ids] == [(2, 2), (1, 1), (0, 0)]
    assert facts[ids[1]].submitted_by == "bob"
    assert [without[i].comments for i in ids] == [None] * 3
