"""A member's steering of their recommendations (``/account/recommendations``): exploration
share and pause, reset, exclusions, topics, seeds, the private feed's token and followed
authors. Each change checks its input, then runs in one transaction of its own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.deliver.community import permissions
from paperfeed.errors import InvalidInputError
from paperfeed.rank.recommend.seeds import parse_references
from paperfeed.store import follows, steering
from paperfeed.store import recommendations as rec
from paperfeed.store.engine import writing
from paperfeed.store.steering import Steering
from paperfeed.store.users import Member

#: The longest exclusion, topic or followed name, in characters.
MAX_VALUE = 200


def check_value(value: str) -> str:
    """``value`` with its white space folded; refused when empty or too long."""
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > MAX_VALUE:
        raise InvalidInputError(f"give a value of 1 to {MAX_VALUE} characters")
    return cleaned


@dataclass
class RecommendSettings:
    engine: Engine
    clock: Clock

    def read(self, who: Member | None, author: str = "") -> Steering:
        """What the steering page shows; ``author``: a name to profile, to pin a follow."""
        member = permissions.require(who, "read_collection")
        with self.engine.connect() as conn:
            return steering.read_steering(conn, member.id, author=author[:MAX_VALUE])

    def save(self, who: Member | None, *, exploration: int, paused: bool) -> None:
        member = permissions.require(who, "read_collection")
        with writing(self.engine) as conn:
            rec.update_settings(
                conn,
                user_id=member.id,
                exploration=exploration,
                paused=paused,
                now=self.clock.now(),
            )

    def reset(self, who: Member | None) -> None:
        """Forget the signals so far (they stop counting; votes and saves stay)."""
        member = permissions.require(who, "read_collection")
        with writing(self.engine) as conn:
            rec.reset(conn, user_id=member.id, now=self.clock.now())

    def exclude(self, who: Member | None, kind: str, value: str, *, remove: bool) -> None:
        """Add (or remove) an exclusion: a keyword, category or author never recommended."""
        member = permissions.require(who, "read_collection")
        if kind not in rec.EXCLUSION_KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(rec.EXCLUSION_KINDS)}")
        cleaned = check_value(value)
        with writing(self.engine) as conn:
            change = rec.remove_exclusion if remove else rec.add_exclusion
            change(conn, user_id=member.id, kind=kind, value=cleaned, now=self.clock.now())

    def change_topic(self, who: Member | None, query: str, *, remove: bool) -> None:
        """Add (or remove) a topic: a search whose papers count as liked."""
        member = permissions.require(who, "read_collection")
        cleaned = check_value(query)
        with writing(self.engine) as conn:
            change = rec.remove_topic if remove else rec.add_topic
            change(conn, user_id=member.id, query=cleaned, now=self.clock.now())

    def add_seeds(self, who: Member | None, text: str) -> tuple[int, int]:
        """Seed with the stored papers that the text names (arXiv ids or links, DOIs, or a
        BibTeX / RIS export's titles): how many matched, of how many references found."""
        member = permissions.require(who, "read_collection")
        refs = parse_references(text)
        with writing(self.engine) as conn:
            matched = steering.add_seeds(
                conn,
                user_id=member.id,
                arxiv_ids=refs.arxiv_ids,
                dois=refs.dois,
                title_keys=refs.title_keys,
                now=self.clock.now(),
            )
        return matched, refs.found

    def remove_seed(self, who: Member | None, paper_id: int) -> None:
        member = permissions.require(who, "read_collection")
        with writing(self.engine) as conn:
            rec.remove_signal(
                conn, user_id=member.id, paper_id=paper_id, kind="seed", now=self.clock.now()
            )

    def set_feed_token(self, who: Member | None, token_hash: str | None) -> None:
        """Keep the hash of the private feed's new token (``None`` revokes the feed)."""
        member = permissions.require(who, "read_collection")
        with writing(self.engine) as conn:
            rec.set_feed_token(conn, user_id=member.id, token_hash=token_hash, now=self.clock.now())

    def follow(self, who: Member | None, name: str, *, co_author: str, category: str) -> None:
        """Follow an author by name, pinned to a co-author and / or a category if given."""
        member = permissions.require(who, "read_collection")
        with writing(self.engine) as conn:
            follows.follow(
                conn,
                user_id=member.id,
                name=check_value(name),
                co_author=" ".join(co_author.split())[:MAX_VALUE],
                category=category.strip()[:64],
                now=self.clock.now(),
            )

    def unfollow(self, who: Member | None, follow_id: int) -> None:
        member = permissions.require(who, "read_collection")
        with writing(self.engine) as conn:
            follows.unfollow(conn, user_id=member.id, follow_id=follow_id, now=self.clock.now())
