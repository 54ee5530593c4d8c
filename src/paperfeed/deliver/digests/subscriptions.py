"""Digest subscriptions: subscribe with double opt-in, confirm, change preferences or
address, unsubscribe. No HTTP here; :mod:`paperfeed.deliver.routes.account.subscriptions` and
the API call it.

* A request never reveals whether an address is known: the answer is the same, and a
  known, confirmed address gets a mail with its preferences link instead.
* The confirmation link is signed, expires after ``PAPERFEED_VERIFY_LINK_HOURS`` and only
  works for the latest request (it carries the request's time), while it is pending: an
  unsubscribe voids it. Confirming stores the
  time and IP as proof of consent (also in the ``subscription_events`` trail).
* Links in digests (unsubscribe, preferences) are signed with the subscriber's
  ``link_key``, which changes with the address, so old links stop working then.
* Members (with their address already verified) subscribe from their settings without
  a second confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver import rate_limit, security
from paperfeed.deliver.community.accounts import check_email
from paperfeed.deliver.digests import subscription_mail
from paperfeed.deliver.mail import smtp as mail
from paperfeed.errors import ConflictError, InvalidInputError, InvalidQueryError
from paperfeed.index.query import parse_query
from paperfeed.store import subscriptions as store
from paperfeed.store.engine import writing
from paperfeed.store.subscriptions import FREQUENCIES, Frequency, Subscriber
from paperfeed.store.users import Member

MAX_QUERY_CHARS = 200
INVALID_LINK = "this link is not valid; ask for a new one"


def check_frequency(value: str) -> Frequency:
    for known in FREQUENCIES:
        if value == known:
            return known
    raise InvalidInputError(f"frequency: use one of {', '.join(FREQUENCIES)}")


def check_searches(queries: list[str], limit: int) -> list[str]:
    """Saved searches, stripped, without blanks or repeats; each must parse as a query."""
    kept: list[str] = []
    for raw in queries:
        query = " ".join(raw.split())
        if not query or query in kept:
            continue
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInputError(f"a saved search has at most {MAX_QUERY_CHARS} characters")
        try:
            parsed = parse_query(query)
        except InvalidQueryError as exc:
            raise InvalidInputError(f"saved search {query!r}: {exc}") from exc
        if not parsed.has_text:
            raise InvalidInputError(f"saved search {query!r}: give some words to look for")
        kept.append(query)
    if len(kept) > limit:
        raise InvalidInputError(f"at most {limit} saved searches")
    return kept


@dataclass
class Subscriptions:
    settings: Settings
    engine: Engine
    clock: Clock
    secret: security.Secret

    # -- links ------------------------------------------------------------------------------

    def _url(self, path: str, token: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}{path}?token={quote(token)}"

    def _confirm_link(self, sub: Subscriber, email: str, requested_at: datetime) -> str:
        token = security.sign(
            self.secret,
            "digest-confirm",
            {"s": sub.id, "e": email, "k": sub.link_key, "r": int(requested_at.timestamp())},
            self.clock.now() + timedelta(hours=self.settings.verify_link_hours),
        )
        return self._url("/digest/confirm", token)

    def manage_token(self, sub: Subscriber, now: datetime) -> str:
        """The token of a digest's unsubscribe and preferences links."""
        expires = now + timedelta(days=self.settings.digest_link_days)
        return security.sign(
            self.secret, "digest-manage", {"s": sub.id, "k": sub.link_key}, expires
        )

    def unsubscribe_url(self, token: str) -> str:
        return self._url("/digest/unsubscribe", token)

    def preferences_url(self, token: str) -> str:
        return self._url("/digest/preferences", token)

    def _send(self, message: mail.Mail) -> None:
        mail.send(self.settings, message, now=self.clock.now())

    # -- subscribing ------------------------------------------------------------------------

    def subscribe(self, *, email: str, frequency: str, searches: list[str], ip: str) -> None:
        """Ask for a digest at ``email``: mails a confirmation link (or, to an address that
        already receives digests, its preferences link). Says nothing about the address."""
        now = self.clock.now()
        window = timedelta(minutes=self.settings.lockout_minutes)
        with writing(self.engine) as conn:
            rate_limit.hit(
                conn,
                rate_limit.Rule("subscribe-ip", self.settings.subscribe_ip_limit, window),
                ip,
                now,
                "too many subscription requests from your address",
            )
        email = check_email(email)
        chosen = check_frequency(frequency)
        queries = check_searches(searches, self.settings.digest_max_searches)
        with writing(self.engine) as conn:
            rate_limit.hit(
                conn,
                rate_limit.Rule("subscribe-email", self.settings.auth_account_limit, window),
                email,
                now,
                "too many subscription requests for this address",
            )
            sub = store.by_email(conn, email)
            if sub is not None and sub.status == "confirmed":
                store.record_event(conn, sub.id, "request-known", email, ip, now)
                known = sub
            else:
                known = None
                if sub is None:
                    sid = store.create(
                        conn, email=email, frequency=chosen, link_key=security.new_token(), now=now
                    )
                else:
                    sid = sub.id
                    store.change(
                        conn, sid, status="pending", frequency=chosen, requested_at=now, bounces=0
                    )
                store.set_searches(conn, sid, queries)
                store.record_event(conn, sid, "request", email, ip, now)
                fresh = store.get(conn, sid)
        if known is not None:
            link = self.preferences_url(self.manage_token(known, now))
            self._send(subscription_mail.already_mail(email, link))
            return
        assert fresh is not None
        link = self._confirm_link(fresh, email, now)
        hours = self.settings.verify_link_hours
        self._send(subscription_mail.confirm_mail(email, link, hours, fresh.frequency))

    def subscribe_member(
        self, member: Member, *, frequency: str, searches: list[str], ip: str
    ) -> Subscriber:
        """A member's own subscription, at their verified address, confirmed at once."""
        if not member.verified:
            raise InvalidInputError("confirm your e-mail address first")
        chosen = check_frequency(frequency)
        queries = check_searches(searches, self.settings.digest_max_searches)
        now = self.clock.now()
        with writing(self.engine) as conn:
            sub = store.by_user(conn, member.id) or store.by_email(conn, member.email)
            if sub is None:
                sid = store.create(
                    conn,
                    email=member.email,
                    frequency=chosen,
                    link_key=security.new_token(),
                    now=now,
                    user_id=member.id,
                )
            else:
                sid = sub.id
            store.change(
                conn,
                sid,
                user_id=member.id,
                frequency=chosen,
                status="confirmed",
                confirmed_at=now,
                confirmed_ip=ip,
                requested_at=now,
                unsubscribed_at=None,
                bounces=0,
            )
            store.set_searches(conn, sid, queries)
            store.record_event(conn, sid, "confirm-member", member.email, ip, now)
            found = store.get(conn, sid)
        assert found is not None
        return found

    def of_member(self, member: Member) -> Subscriber | None:
        with self.engine.connect() as conn:
            return store.by_user(conn, member.id)

    # -- links' actions ---------------------------------------------------------------------

    def confirm(self, token: str, ip: str) -> Subscriber:
        """Confirm a subscription, or a change of address, from its mailed link."""
        now = self.clock.now()
        body = security.unsign(self.secret, "digest-confirm", token, now)
        with writing(self.engine) as conn:
            sub = store.get(conn, int(str(body.get("s", 0))))
            if sub is None or not security.same(str(body.get("k", "")), sub.link_key):
                raise InvalidInputError(INVALID_LINK)
            email = str(body.get("e", ""))
            requested = int(str(body.get("r", 0)))
            if email == sub.pending_email:
                if store.by_email(conn, email) is not None:
                    raise ConflictError("that address already has a subscription")
                store.change(
                    conn,
                    sub.id,
                    email=email,
                    pending_email=None,
                    link_key=security.new_token(),
                    confirmed_at=now,
                    confirmed_ip=ip,
                )
                store.record_event(conn, sub.id, "change-email", email, ip, now)
            elif email == sub.email and sub.status == "confirmed":
                pass  # a second click on the same link
            elif (
                email == sub.email
                and sub.status == "pending"
                and requested == int(sub.requested_at.timestamp())
            ):
                # Only a pending request: after an unsubscribe (or with the address
                # failing) an old link must not subscribe the address again.
                store.change(conn, sub.id, status="confirmed", confirmed_at=now, confirmed_ip=ip)
                store.record_event(conn, sub.id, "confirm", email, ip, now)
            else:
                raise InvalidInputError(INVALID_LINK)
            confirmed = store.get(conn, sub.id)
        assert confirmed is not None
        return confirmed

    def _managed(self, token: str) -> tuple[Subscriber, datetime]:
        now = self.clock.now()
        body = security.unsign(self.secret, "digest-manage", token, now)
        with self.engine.connect() as conn:
            sub = store.get(conn, int(str(body.get("s", 0))))
        if sub is None or not security.same(str(body.get("k", "")), sub.link_key):
            raise InvalidInputError(INVALID_LINK)
        return sub, now

    def preferences(self, token: str) -> Subscriber:
        """The subscription a digest's preferences (or unsubscribe) link is for."""
        return self._managed(token)[0]

    def unsubscribe(self, token: str, ip: str) -> Subscriber:
        """Stop every digest to the link's address (again: no error)."""
        sub, now = self._managed(token)
        with writing(self.engine) as conn:
            if sub.status != "unsubscribed":
                store.change(conn, sub.id, status="unsubscribed", unsubscribed_at=now)
                store.record_event(conn, sub.id, "unsubscribe", sub.email, ip, now)
            done = store.get(conn, sub.id)
        assert done is not None
        return done

    def update(
        self, token: str, *, frequency: str, searches: list[str], new_email: str, ip: str
    ) -> tuple[Subscriber, bool]:
        """Change frequency and saved searches; a new address is mailed a confirmation link
        and takes over only once confirmed. Returns the subscriber and whether one was sent."""
        sub, now = self._managed(token)
        chosen = check_frequency(frequency)
        queries = check_searches(searches, self.settings.digest_max_searches)
        moving = check_email(new_email) if new_email.strip() else None
        if moving == sub.email:
            moving = None
        with writing(self.engine) as conn:
            store.change(conn, sub.id, frequency=chosen, pending_email=moving or sub.pending_email)
            store.set_searches(conn, sub.id, queries)
            if moving is not None:
                store.record_event(conn, sub.id, "change-request", moving, ip, now)
            changed = store.get(conn, sub.id)
        assert changed is not None
        if moving is not None:
            link = self._confirm_link(changed, moving, now)
            self._send(subscription_mail.change_mail(moving, link, self.settings.verify_link_hours))
        return changed, moving is not None
