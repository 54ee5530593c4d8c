"""What a paper's page shows beyond the paper, as its viewer may see it: whether the
moderators hid it, the cards of the paper and its similar papers, the comment threads and
which comments the viewer may edit, and the viewer's collections (for "add to a
collection"). :func:`load_paper_view` reads it in one connection before the page renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.comments import Thread, threads
from paperfeed.deliver.web.cards import NO_CARDS, Cards, load_cards
from paperfeed.models import StoredPaper
from paperfeed.store import collections, comments, moderation
from paperfeed.store.collections import Collection
from paperfeed.store.users import Member


@dataclass(frozen=True)
class PaperView:
    #: The moderators hid the paper (from every list; its page says so to moderators).
    hidden: bool
    #: Hidden, and the viewer is no moderator: the page shows only that it was hidden.
    withheld: bool
    cards: Cards
    threads: list[Thread]
    #: The comments the viewer may edit or delete (their own).
    editable: frozenset[int]
    #: The viewer's collections, when they may add the paper to one.
    collections: list[Collection]


def load_paper_view(
    conn: Connection,
    stored: StoredPaper,
    similar: Sequence[StoredPaper],
    member: Member | None,
) -> PaperView:
    moderator = permissions.allowed(member, "hide")
    hidden = bool(moderation.hidden_among(conn, [stored.id]))
    if hidden and not moderator:
        return PaperView(True, True, NO_CARDS, [], frozenset(), [])
    found = comments.thread(conn, stored.id)
    editable = frozenset(
        c.id for c in found if permissions.allowed(member, "edit_comment", c.user_id)
    )
    mine: list[Collection] = []
    if member is not None and permissions.allowed(member, "curate"):
        mine = collections.of_user(conn, member.id)
    return PaperView(
        hidden=hidden,
        withheld=False,
        cards=load_cards(conn, [stored, *similar], member),
        threads=threads(found, moderator=moderator),
        editable=editable,
        collections=mine,
    )
