"""Finding the paper a community action is about, by the ids the API and pages use."""

from __future__ import annotations

from sqlalchemy import Connection

from paperfeed.errors import NotFoundError
from paperfeed.models import StoredPaper, split_arxiv_id
from paperfeed.store import moderation
from paperfeed.store import papers as store


def find_paper(conn: Connection, ident: str, *, include_hidden: bool = False) -> StoredPaper:
    """A paper by arXiv id (any version suffix), ``pfN`` or its number ``N``; one that
    moderators hid is not found unless ``include_hidden``."""
    digits = ident[2:] if ident.startswith("pf") else ident
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if digits.isascii() and digits.isdigit() and len(digits) < 12:
        number = int(digits)
        stored = store.get_by_id(conn, number) if 0 < number < 2**31 else None
    else:
        try:
            base, _ = split_arxiv_id(ident)
        except ValueError as exc:
            raise NotFoundError(f"not a paper id: {ident[:60]!r}") from exc
        stored = store.get_by_arxiv_id(conn, base)
    if stored is None or (not include_hidden and moderation.hidden_among(conn, [stored.id])):
        raise NotFoundError(f"no paper {ident[:60]!r}")
    return stored
