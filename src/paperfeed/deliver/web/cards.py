"""What a page's paper cards show beyond the papers themselves: their votes (imported plus
the hub's own), whether the viewer upvoted each, who submitted it here, and its thumbnail.

A route loads all of it for every card of the page at once (:func:`load_cards`: one
connection, a fixed number of statements however many cards) before it renders, and
hands the template a :class:`Cards`; templates only read it and never reach the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from paperfeed.models import StoredPaper
from paperfeed.rank.trending import total_votes
from paperfeed.store.cards import CardFacts, card_facts
from paperfeed.store.users import Member

#: The file extension of each image type the hub serves thumbnails as.
EXTENSIONS = {"image/webp": "webp", "image/png": "png", "image/jpeg": "jpg"}


def thumbnail_path(paper_id: int, media_type: str) -> str:
    return f"/thumbnails/{paper_id}.{EXTENSIONS.get(media_type, 'png')}"


@dataclass(frozen=True)
class Social:
    """A paper's votes, whether the viewer upvoted it, and who submitted it here."""

    votes: int
    upvoted: bool
    submitted_by: str | None


@dataclass(frozen=True)
class Cards:
    """What the cards of one page show beyond their papers, by paper id."""

    social: Mapping[int, Social]
    #: The thumbnail's path of each paper that has one (the others get a typographic card).
    thumbnails: Mapping[int, str]

    def of(self, stored: StoredPaper) -> Social:
        return self.social[stored.id]

    def thumbnail(self, stored: StoredPaper) -> str | None:
        return self.thumbnails.get(stored.id)


NO_CARDS = Cards({}, {})


def load_cards(
    conn: Connection,
    papers: Sequence[StoredPaper],
    member: Member | None,
    counted: Mapping[int, int] | None = None,
) -> Cards:
    """The cards of ``papers`` as ``member`` (or a visitor) sees them, in one statement.
    ``counted`` gives their votes when the caller has them already (a ranked list)."""
    shown = list({s.id: s for s in papers}.values())
    if not shown:
        return NO_CARDS
    given = counted or {}
    facts = card_facts(
        conn,
        [s.id for s in shown],
        user_id=member.id if member is not None else None,
        count_votes=any(s.id not in given for s in shown),
    )
    return cards_of(shown, facts, given)


def cards_of(
    papers: Sequence[StoredPaper], facts: Mapping[int, CardFacts], counted: Mapping[int, int]
) -> Cards:
    """The cards of ``papers`` from what the store said of them; votes already ``counted``
    win over the facts' count. A paper the store no longer has (deleted since the page's
    papers were read) shows its imported votes and nothing else. Pure."""
    social: dict[int, Social] = {}
    images: dict[int, str] = {}
    for s in papers:
        fact = facts.get(s.id)
        hub_votes = fact.hub_votes if fact is not None else None
        votes = counted[s.id] if s.id in counted else total_votes(s, hub_votes or 0)
        if fact is None:
            social[s.id] = Social(votes, False, None)
            continue
        social[s.id] = Social(votes, fact.upvoted, fact.submitted_by)
        if fact.thumbnail:
            images[s.id] = thumbnail_path(s.id, fact.thumbnail)
    return Cards(social, images)
