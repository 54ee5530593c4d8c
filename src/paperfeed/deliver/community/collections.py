"""Collections: members keep public or private lists of papers, a note with each.
Only the owner changes a collection or sees a private one; to anybody else a private
collection does not exist (404), so its existence is not revealed either."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.errors import InvalidInputError, NotFoundError
from paperfeed.models import StoredPaper
from paperfeed.store import collections as store
from paperfeed.store import moderation
from paperfeed.store import papers as paper_store
from paperfeed.store.collections import Collection, Item
from paperfeed.store.engine import writing
from paperfeed.store.users import Member

MAX_TITLE = 200
MAX_TEXT = 5_000


def check_title(title: str) -> str:
    text = " ".join(title.split())
    if not text:
        raise InvalidInputError("give the collection a title")
    if len(text) > MAX_TITLE:
        raise InvalidInputError(f"a title has at most {MAX_TITLE} characters")
    return text


def check_text(text: str, what: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"a {what} has at most {MAX_TEXT:,} characters")
    return text


def readable(collection: Collection | None, member: Member | None) -> bool:
    """Whether ``member`` (or a visitor) may see ``collection``. Pure."""
    if collection is None:
        return False
    return collection.public or (member is not None and member.id == collection.user_id)


@dataclass(frozen=True)
class Shown:
    collection: Collection
    entries: list[tuple[StoredPaper, Item]]


@dataclass
class Collections:
    engine: Engine
    clock: Clock

    def create(
        self, who: Member | None, title: str, description: str = "", public: bool = False
    ) -> Collection:
        member = permissions.require(who, "curate")
        values = check_title(title), check_text(description, "description")
        with writing(self.engine) as conn:
            new_id = store.create(
                conn,
                user_id=member.id,
                title=values[0],
                description=values[1],
                public=public,
                now=self.clock.now(),
            )
            made = store.get(conn, new_id)
        assert made is not None
        return made

    def show(self, who: Member | None, collection_id: int) -> Shown:
        with self.engine.connect() as conn:
            found = store.get(conn, collection_id)
            if not readable(found, who):
                raise NotFoundError(f"no collection {collection_id}")
            assert found is not None
            listed = store.items(conn, collection_id)
            hidden = moderation.hidden_among(conn, [i.paper_id for i in listed])
            listed = [i for i in listed if i.paper_id not in hidden]
            papers = paper_store.read_papers(conn, [i.paper_id for i in listed])
        return Shown(found, [(papers[i.paper_id], i) for i in listed if i.paper_id in papers])

    def mine(self, who: Member | None) -> list[Collection]:
        member = permissions.require(who, "read_collection")
        with self.engine.connect() as conn:
            return store.of_user(conn, member.id)

    def public(self) -> list[Collection]:
        with self.engine.connect() as conn:
            return store.public(conn)

    def _owned(self, who: Member | None, collection_id: int) -> tuple[Member, Collection]:
        with self.engine.connect() as conn:
            found = store.get(conn, collection_id)
        if not readable(found, who):
            raise NotFoundError(f"no collection {collection_id}")
        assert found is not None
        member = permissions.require(who, "curate", owner_id=found.user_id)
        return member, found

    def change(
        self, who: Member | None, collection_id: int, title: str, description: str, public: bool
    ) -> Collection:
        _, found = self._owned(who, collection_id)
        values = check_title(title), check_text(description, "description")
        with writing(self.engine) as conn:
            store.change(
                conn,
                collection_id,
                title=values[0],
                description=values[1],
                public=public,
                now=self.clock.now(),
            )
        return found

    def delete(self, who: Member | None, collection_id: int) -> None:
        self._owned(who, collection_id)
        with writing(self.engine) as conn:
            store.remove(conn, collection_id)

    def put(
        self, who: Member | None, collection_id: int, paper: str, note: str = ""
    ) -> StoredPaper:
        """Add a paper (arXiv id, ``pfN`` or number) with a note, or change its note."""
        self._owned(who, collection_id)
        text = check_text(note, "note")
        with writing(self.engine) as conn:
            stored = find_paper(conn, paper.strip())
            store.put_item(conn, collection_id, stored.id, text, self.clock.now())
        return stored

    def take_out(self, who: Member | None, collection_id: int, paper_id: int) -> None:
        self._owned(who, collection_id)
        with writing(self.engine) as conn:
            if not store.remove_item(conn, collection_id, paper_id, self.clock.now()):
                raise NotFoundError("that paper is not in this collection")
