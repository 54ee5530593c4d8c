"""What a paper's page shows beyond the paper, as its viewer may see it: whether the
moderators hid it, the cards of the paper and its similar papers, the comment threads and
which comments the viewer may edit, and the viewer's collections (for "add to a
collection"). The route asks :func:`paper_hidden` in the connection that found the paper,
before it looks for similar papers (a withheld page shows none: it costs no search), then
:func:`load_paper_view` reads the rest in one connection before the page renders."""

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


def paper_hidden(conn: Connection, stored: StoredPaper) -> bool:
    """Whether the moderators hid ``stored`` (asked once a page)."""
    return bool(moderation.hidden_among(conn, [stored.id]))


def withheld_from(member: Member | None, hidden: bool) -> bool:
    """Whether the page of a paper ``hidden`` or not shows ``member`` only that it was hidden
    (anyone but a moderator). Pure."""
    return hidden and not permissions.allowed(member, "hide")


def load_paper_view(
    conn: Connection,
    stored: StoredPaper,
    similar: Sequence[StoredPaper],
    member: Member | None,
    *,
    hidden: bool,
) -> PaperView:
    """The view of ``stored`` (``hidden``: what :func:`paper_hidden` said of it)."""
    moderator = permissions.allowed(member, "hide")
    if withheld_from(member, hidden):
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
